"""`voice-engine keys new USER`: a new API key for USER (VOICE_AUTH__MODE=api_key). The
first line printed is the key, for the user (it is shown once and stored nowhere); the
second is its entry in VOICE_AUTH__API_KEYS: the user id and the key's SHA-256, which is
all the workers keep. `voice-engine keys hash` prints the SHA-256 of a key read from
standard input (to check an entry)."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "keys"
HELP = "make API keys (VOICE_AUTH__MODE=api_key): the key, and the hash the workers keep"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="a new key for a user, and its hash line")
    new.add_argument("user", help="the user id the key authenticates (1 to 200 characters)")
    actions.add_parser("hash", help="the SHA-256 of a key read from standard input")


def run(args: argparse.Namespace) -> int:
    from voice_worker.auth.api_keys import hash_key, new_key
    from voice_worker.auth.principal import MAX_USER_CHARS

    if args.action == "hash":
        key = sys.stdin.readline().strip()
        if not key:
            print("voice-engine keys hash: give the key on standard input", file=sys.stderr)
            return 2
        print(hash_key(key))
        return 0
    user = args.user.strip()
    if not 0 < len(user) <= MAX_USER_CHARS:
        print(f"voice-engine keys: a user id has 1 to {MAX_USER_CHARS} characters", file=sys.stderr)
        return 2
    key = new_key()
    entry = f"{json.dumps(user)}: {json.dumps(hash_key(key))}"
    print(key)
    print(entry)
    print(
        f"\nThe first line is {user}'s key: give it to them; it is not stored anywhere.\n"
        "The second goes into the workers' VOICE_AUTH__API_KEYS (a JSON object), e.g.\n"
        f"  VOICE_AUTH__API_KEYS='{{{entry}}}'",
        file=sys.stderr,
    )
    return 0
