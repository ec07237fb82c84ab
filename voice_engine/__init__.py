"""Voice Engine's command line (`voice-engine`): the top of the house, which may import
every service. The wire contract is `voice_contract`."""

__version__ = "0.1.0"
