"""Checks the Slack emulator with Slack's Python SDK (slack_sdk), unchanged, pointed at the
emulator with `base_url`: identity, posting text and blocks, history paging, users with
emails, conversations.open, `ok: false` errors raising SlackApiError, and an emulator-signed
Events API delivery accepted by the SDK's SignatureVerifier. Exits non-zero on the first
mismatch."""

import json
import os
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

ROOT = os.environ["SLACK_ROOT"].rstrip("/")
TOKEN = os.environ["SLACK_TOKEN"]
# The emulated app's signing secret (patchbay_emulators::slack::SIGNING_SECRET).
SIGNING_SECRET = "8f742231b10e8888abcd99emulated01"


def expect_error(code, call):
    try:
        call()
    except SlackApiError as e:
        assert e.response["ok"] is False and e.response["error"] == code, e.response
        return
    raise AssertionError(f"expected {code}")


def main():
    client = WebClient(token=TOKEN, base_url=f"{ROOT}/api/")
    me = client.auth_test()
    assert me["team_id"] == "T0PATCHBAY" and me["user_id"] == "U0BOT", me.data

    sent = client.chat_postMessage(channel="C0GENERAL", text="hello from slack_sdk")
    assert sent["message"]["text"] == "hello from slack_sdk", sent.data
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*a reply*"}}]
    reply = client.chat_postMessage(
        channel="C0GENERAL", text="fallback", blocks=blocks, thread_ts=sent["ts"]
    )
    assert reply["message"]["thread_ts"] == sent["ts"], reply.data
    replies = client.conversations_replies(channel="C0GENERAL", ts=sent["ts"])
    assert [m["ts"] for m in replies["messages"]] == [sent["ts"], reply["ts"]], replies.data

    # The SDK follows response_metadata.next_cursor when a response is iterated.
    seen = []
    for page in client.conversations_history(channel="C0GENERAL", limit=2):
        assert len(page["messages"]) <= 2
        seen.extend(m["ts"] for m in page["messages"])
    assert len(seen) == len(set(seen)) == 7, seen  # 5 seeded, a thread parent, ours
    assert seen == sorted(seen, key=float, reverse=True), seen

    users = [u for page in client.users_list(limit=2) for u in page["members"]]
    ada = next(u for u in users if u["id"] == "U0ADA")
    assert ada["profile"]["email"] == "ada@example.com", ada
    assert len(users) == 4, users

    opened = client.conversations_open(users="U0GRACE")
    dm = opened["channel"]["id"]
    assert dm.startswith("D"), opened.data
    again = client.conversations_open(users=["U0GRACE"])
    assert again["channel"]["id"] == dm, again.data
    assert client.chat_postMessage(channel=dm, text="psst")["channel"] == dm
    client.reactions_add(channel="C0GENERAL", timestamp=sent["ts"], name="tada")
    edited = client.chat_update(channel="C0GENERAL", ts=sent["ts"], text="edited")
    assert edited["text"] == "edited", edited.data
    client.chat_delete(channel="C0GENERAL", ts=reply["ts"])

    expect_error("channel_not_found", lambda: client.chat_postMessage(channel="C0NOPE", text="x"))
    expect_error("not_in_channel", lambda: client.chat_postMessage(channel="C0ANNOUNCE", text="x"))
    expect_error("no_text", lambda: client.chat_postMessage(channel="C0GENERAL"))
    expect_error(
        "already_reacted",
        lambda: client.reactions_add(channel="C0GENERAL", timestamp=sent["ts"], name="tada"),
    )
    expect_error("invalid_auth", WebClient(token="xoxb-nope", base_url=f"{ROOT}/api/").auth_test)

    check_signed_delivery()
    print("slack_sdk: all checks passed")


def check_signed_delivery():
    got = {}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.setdefault("deliveries", []).append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/events"
    say = json.dumps(
        {"event_url": url, "channel": "C0GENERAL", "user": "U0GRACE", "text": "hi <@U0BOT>"}
    ).encode()
    req = urllib.request.Request(
        f"{ROOT}/_emulator/say", data=say, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req) as resp:
        answer = json.load(resp)
    server.shutdown()
    assert [d["status"] for d in answer["deliveries"]] == [200, 200], answer
    verifier = SignatureVerifier(SIGNING_SECRET)
    kinds = []
    for headers, body in got["deliveries"]:
        assert verifier.is_valid_request(body, headers), headers
        assert not verifier.is_valid_request(body + b" ", headers)
        kinds.append(json.loads(body)["event"]["type"])
    assert kinds == ["message", "app_mention"], kinds


if __name__ == "__main__":
    main()
