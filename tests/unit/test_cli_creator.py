"""`ledger creator` is a group of subcommands, each with its own options, all helped
(issue 12: one positional action mixed every action's options)."""

from __future__ import annotations

import argparse

import pytest

from ledger.cli.main import build_parser, main

ACTIONS = ["register", "add-key", "revoke-key", "recover", "show", "statement", "approve", "reject",
           "split", "withdraw"]


def creator_actions() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    group = commands.choices["creator"]
    actions = next(a for a in group._actions if isinstance(a, argparse._SubParsersAction))
    return dict(actions.choices)


def test_every_action_is_a_subcommand() -> None:
    assert list(creator_actions()) == ACTIONS


@pytest.mark.parametrize("name", ACTIONS)
def test_every_option_has_help(name: str) -> None:
    command = creator_actions()[name]
    for action in command._actions:
        assert action.help, f"ledger creator {name}: {action.option_strings or action.dest}"


def test_options_of_other_actions_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["creator", "show", "creator:a", "--manifest", "m.json"]) == 2
    assert "unrecognized arguments: --manifest" in capsys.readouterr().err


def test_a_bad_id_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["creator", "approve", "creator:alice-", "--db-url",
                 "sqlite+aiosqlite:///nowhere.db"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error: ") and err.count("\n") == 1 and "creator_id" in err
