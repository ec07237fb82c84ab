"""README stays true: the configuration tables match the Settings classes, and the two
commands a new user needs are there."""

from voice_engine.settings_doc import README, render


def test_configuration_tables_match_settings() -> None:
    text = README.read_text()
    assert render(text) == text, "README is stale: run `python -m voice_engine.settings_doc`"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:1500]
    assert "make run" in head
    assert "make test" in head
