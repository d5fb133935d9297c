"""Checks the OpenAI-compatible emulator with the official `openai` client, unchanged, pointed
at the emulator's base URL: model list and lookup, a chat completion, and the errors for a
wrong key, an unknown model and bad input. Exits non-zero on the first mismatch."""

import os

import openai
from openai import OpenAI

BASE_URL = os.environ["OPENAI_BASE_URL"].rstrip("/")
KEY = os.environ["OPENAI_KEY"]


def client(key):
    # No retries: a refused call must fail at once, not be retried quietly.
    return OpenAI(base_url=BASE_URL, api_key=key, max_retries=0, timeout=10)


def main():
    c = client(KEY)

    models = c.models.list()
    ids = [m.id for m in models]
    assert ids == ["echo-1", "echo-1-mini"], ids
    assert all(m.object == "model" and m.owned_by and m.created > 0 for m in models), models
    one = c.models.retrieve("echo-1")
    assert one.id == "echo-1" and one.object == "model", one

    done = c.chat.completions.create(
        model="echo-1",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello from the official client"},
        ],
    )
    assert done.object == "chat.completion", done
    assert done.model == "echo-1", done
    choice = done.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop", choice
    assert choice.message.role == "assistant", choice
    assert choice.message.content == "Echo: hello from the official client", choice
    assert done.usage.prompt_tokens == 7, done.usage
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens

    # Content given as parts reads the same.
    parts = c.chat.completions.create(
        model="echo-1-mini",
        messages=[{"role": "user", "content": [{"type": "text", "text": "in parts"}]}],
    )
    assert parts.choices[0].message.content == "Echo: in parts", parts

    try:
        client("sk-wrong").models.list()
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as e:
        assert e.status_code == 401 and e.code == "invalid_api_key", e
        assert "sk-wrong" not in str(e), e

    try:
        c.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("an unknown model was accepted")
    except openai.NotFoundError as e:
        assert e.code == "model_not_found" and e.param == "model", e

    try:
        c.chat.completions.create(model="echo-1", messages=[])
        raise AssertionError("empty messages were accepted")
    except openai.BadRequestError as e:
        assert e.param == "messages", e

    print("openai client: ok")


if __name__ == "__main__":
    main()
