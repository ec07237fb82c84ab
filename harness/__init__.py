"""What the test suite and the benchmarks both start and measure: the engine's processes
on free ports (processes), the servers beside them (servers: a throwaway Redis, an ASGI
app in a thread; postgres: a private PostgreSQL), the fake upstream chat model
(fake_venice), several model servers (fleet_servers), the load run (load), tiny Qwen3
checkpoints (qwen3_checkpoints), speech that behaves like people (people: espeak-ng
voices with mid-sentence pauses, in noise, and the jfk recording), and the audio checks
(processes: WER, decode). It imports neither `tests` nor `bench` (a lint-imports
contract); both import it."""
