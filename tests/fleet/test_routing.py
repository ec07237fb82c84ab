"""The routing rule, without gRPC: which server takes a request for a model."""

from __future__ import annotations

from voice_worker.tts.base import ModelDescription
from voice_worker.tts.fleet.provider import merge_models
from voice_worker.tts.fleet.routing import ServerView, default_model, fleet_models, rank


def server(
    address: str,
    models: set[str],
    loaded: set[str] = frozenset(),  # type: ignore[assignment]
    in_flight: int = 0,
    serving: bool = True,
    last_chosen: int = 0,
) -> ServerView:
    return ServerView(
        address, serving, frozenset(models), frozenset(loaded), in_flight, last_chosen
    )


def addresses(views: list[ServerView]) -> list[str]:
    return [v.address for v in views]


def test_a_server_with_the_model_loaded_comes_before_one_that_can_load_it() -> None:
    servers = [
        server("idle-but-cold", {"a", "b"}, loaded={"b"}, in_flight=0),
        server("busy-but-warm", {"a", "b"}, loaded={"a"}, in_flight=5),
    ]
    assert addresses(rank("a", servers)) == ["busy-but-warm", "idle-but-cold"]


def test_among_holders_the_fewest_in_flight_first_then_the_longest_unchosen() -> None:
    servers = [
        server("x", {"a"}, loaded={"a"}, in_flight=3),
        server("y", {"a"}, loaded={"a"}, in_flight=1, last_chosen=9),
        server("z", {"a"}, loaded={"a"}, in_flight=1, last_chosen=4),
    ]
    assert addresses(rank("a", servers)) == ["z", "y", "x"]


def test_servers_that_do_not_serve_or_do_not_know_the_model_get_nothing() -> None:
    servers = [
        server("draining", {"a"}, loaded={"a"}, serving=False),
        server("other-models", {"b"}, loaded={"b"}),
        server("cold", {"a", "b"}),
    ]
    assert addresses(rank("a", servers)) == ["cold"]
    assert rank("c", servers) == []


def test_a_model_nobody_holds_goes_to_the_least_busy_server_that_can_load_it() -> None:
    servers = [server("p", {"a"}, in_flight=2), server("q", {"a"}, in_flight=1)]
    assert addresses(rank("a", servers)) == ["q", "p"]


def test_a_second_copy_only_when_every_holder_is_loaded_past_the_threshold() -> None:
    holder = server("holder", {"a"}, loaded={"a"}, in_flight=8)
    spare = server("spare", {"a"}, in_flight=1)
    assert addresses(rank("a", [holder, spare], spread_in_flight=0)) == ["holder", "spare"]
    assert addresses(rank("a", [holder, spare], spread_in_flight=9)) == ["holder", "spare"]
    assert addresses(rank("a", [holder, spare], spread_in_flight=8)) == ["spare", "holder"]
    # a spare as busy as the holder gains nothing
    busy_spare = server("spare", {"a"}, in_flight=8)
    assert addresses(rank("a", [holder, busy_spare], spread_in_flight=8))[0] == "holder"


def test_the_fleets_default_is_the_most_common_one() -> None:
    assert default_model(["b", "a", "b", ""]) == "b"
    assert default_model(["b", "a"]) == "a"  # a tie: by name
    assert default_model(["", ""]) == ""


def test_fleet_models_is_the_union() -> None:
    servers = [server("x", {"a", "b"}), server("y", {"c"}, serving=False)]
    assert fleet_models(servers) == ["a", "b", "c"]


def test_merged_models_take_their_most_resident_state_and_the_fleets_default() -> None:
    def model(name: str, state: str, is_default: bool = False) -> ModelDescription:
        return ModelDescription(name, "piper", 22050, is_default, state)

    merged = merge_models(
        [[model("a", "unloaded", True), model("b", "loaded")], [model("a", "loading")]],
        default="b",
    )
    assert [(m.name, m.state, m.is_default) for m in merged] == [
        ("a", "loading", False),
        ("b", "loaded", True),
    ]
