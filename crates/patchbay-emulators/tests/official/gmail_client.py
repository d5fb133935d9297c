"""Drives the Gmail emulator with Google's own Python client (google-api-python-client),
unchanged, pointed at the emulator's root URL. Exits non-zero on the first failed check.

Environment: GMAIL_BASE_URL (e.g. http://127.0.0.1:8085/) and GMAIL_TOKEN.
The emulator must serve the demo mailbox (`seed_demo`).

Media uploads (`media_body=`) are left out: the client keeps the https scheme of Google's
upload URL when only the host is overridden, so it cannot reach a plain-HTTP emulator; the
Rust tests cover `/upload/gmail/v1/...`.
"""

import base64
import os
import sys
from email.message import EmailMessage

import google.oauth2.credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

BASE_URL = os.environ["GMAIL_BASE_URL"]
TOKEN = os.environ["GMAIL_TOKEN"]


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def b64decode(data):
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def header(part, name):
    for h in part.get("headers", []):
        if h["name"].lower() == name.lower():
            return h["value"]
    return None


def walk(part):
    yield part
    for child in part.get("parts", []):
        yield from walk(child)


def main():
    creds = google.oauth2.credentials.Credentials(token=TOKEN)
    gmail = build(
        "gmail",
        "v1",
        credentials=creds,
        client_options={"api_endpoint": BASE_URL},
        static_discovery=True,
    )
    users = gmail.users()

    profile = users.getProfile(userId="me").execute()
    check(profile["emailAddress"] == "ada@example.com", f"profile: {profile}")
    start_history = profile["historyId"]
    check(start_history.isdigit(), "historyId is a decimal string")

    # Paging through the inbox with list_next.
    ids, pages = [], 0
    request = users.messages().list(userId="me", labelIds=["INBOX"], maxResults=4)
    while request is not None:
        page = request.execute()
        pages += 1
        ids += [m["id"] for m in page.get("messages", [])]
        check(page["resultSizeEstimate"] >= len(ids), "resultSizeEstimate")
        request = users.messages().list_next(request, page)
    check(pages > 2, f"paged {pages} times")
    check(len(ids) == len(set(ids)), "no message twice")
    check(len(ids) == page["resultSizeEstimate"], "every inbox message listed")

    # Search.
    found = users.messages().list(userId="me", q="subject:(Q3 report) is:unread").execute()
    check(found["resultSizeEstimate"] == 1, f"search: {found}")
    q3 = found["messages"][0]

    # Full format: headers decoded, the text in body.data.
    full = users.messages().get(userId="me", id=q3["id"]).execute()
    check(full["threadId"] == q3["threadId"], "threadId")
    check("UNREAD" in full["labelIds"], "labelIds")
    check(header(full["payload"], "From").startswith("Zoë Müller"), "RFC 2047 From decoded")
    text = b64decode(full["payload"]["body"]["data"]).decode()
    check("headcount" in text, "body text")
    check(int(full["internalDate"]) > 0 and full["sizeEstimate"] > 0, "sizes and dates")

    # Raw and metadata formats.
    raw = users.messages().get(userId="me", id=q3["id"], format="raw").execute()
    check(b"Subject: Re: Q3 report" in b64decode(raw["raw"]), "raw RFC 822")
    meta = users.messages().get(
        userId="me", id=q3["id"], format="metadata", metadataHeaders=["Subject", "From"]
    ).execute()
    names = sorted(h["name"] for h in meta["payload"]["headers"])
    check(names == ["From", "Subject"], f"metadata headers: {names}")

    # Threads.
    threads = users.threads().list(userId="me", maxResults=5).execute()
    check(len(threads["threads"]) == 5 and "nextPageToken" in threads, "threads page")
    thread = users.threads().get(userId="me", id=q3["threadId"]).execute()
    check(len(thread["messages"]) == 3, "the Q3 thread has three messages")
    dates = [int(m["internalDate"]) for m in thread["messages"]]
    check(dates == sorted(dates), "thread messages oldest first")
    check(thread["messages"][0]["payload"]["headers"], "thread messages in full format")

    # Labels.
    labels = users.labels().list(userId="me").execute()["labels"]
    by_name = {label["name"]: label for label in labels}
    check({"INBOX", "SENT", "TRASH", "UNREAD", "Finance"} <= set(by_name), "labels")
    inbox = users.labels().get(userId="me", id="INBOX").execute()
    check(inbox["messagesTotal"] == len(ids), "INBOX messagesTotal")
    created = users.labels().create(
        userId="me", body={"name": "Official client", "labelListVisibility": "labelShow",
                           "messageListVisibility": "show"}
    ).execute()
    check(created["id"].startswith("Label_"), "created label")

    # Send a reply built with the email package; it joins the thread.
    reply = EmailMessage()
    reply["To"] = "Zoë Müller <zoe.mueller@example.de>"
    reply["Subject"] = "Re: Q3 report"
    reply["In-Reply-To"] = header(full["payload"], "Message-ID")
    reply["References"] = header(full["payload"], "Message-ID")
    reply.set_content("Headcount numbers are on page 4.\n\nAda")
    encoded = base64.urlsafe_b64encode(reply.as_bytes()).decode()
    sent = users.messages().send(
        userId="me", body={"raw": encoded, "threadId": q3["threadId"]}
    ).execute()
    check(sent["labelIds"] == ["SENT"], f"sent labels: {sent}")
    check(sent["threadId"] == q3["threadId"], "the reply joined the thread")

    # Drafts: create, update, send.
    draft_msg = EmailMessage()
    draft_msg["To"] = "lena.schmidt@example.de"
    draft_msg["Subject"] = "Offsite agenda"
    draft_msg.set_content("First draft")
    body = {"message": {"raw": base64.urlsafe_b64encode(draft_msg.as_bytes()).decode()}}
    draft = users.drafts().create(userId="me", body=body).execute()
    check(draft["message"]["labelIds"] == ["DRAFT"], "draft labels")
    draft_msg.set_content("Second draft")
    body = {"message": {"raw": base64.urlsafe_b64encode(draft_msg.as_bytes()).decode()}}
    updated = users.drafts().update(userId="me", id=draft["id"], body=body).execute()
    check(updated["id"] == draft["id"], "same draft id after update")
    got = users.drafts().get(userId="me", id=draft["id"]).execute()
    check(b"Second draft" in b64decode(got["message"]["payload"]["body"]["data"]), "updated text")
    listed = users.drafts().list(userId="me").execute()
    check(draft["id"] in [d["id"] for d in listed["drafts"]], "draft listed")
    sent_draft = users.drafts().send(userId="me", body={"id": draft["id"]}).execute()
    check("SENT" in sent_draft["labelIds"], "draft sent")
    try:
        users.drafts().get(userId="me", id=draft["id"]).execute()
        check(False, "a sent draft is gone")
    except HttpError as e:
        check(e.resp.status == 404, "404 for the sent draft")

    # Modify and trash.
    changed = users.messages().modify(
        userId="me", id=q3["id"],
        body={"addLabelIds": [created["id"]], "removeLabelIds": ["UNREAD"]},
    ).execute()
    check(created["id"] in changed["labelIds"] and "UNREAD" not in changed["labelIds"], "modify")
    trashed = users.messages().trash(userId="me", id=q3["id"]).execute()
    check("TRASH" in trashed["labelIds"], "trash")
    inbox_now = users.messages().list(userId="me", labelIds=["INBOX"]).execute()
    check(q3["id"] not in [m["id"] for m in inbox_now.get("messages", [])], "trashed not in inbox")

    # History since the start.
    history = users.history().list(userId="me", startHistoryId=start_history).execute()
    records = history["history"]
    added = [m["message"]["id"] for r in records for m in r.get("messagesAdded", [])]
    check(sent["id"] in added, "the sent message is in the history")
    label_added = [
        (m["message"]["id"], tuple(m["labelIds"])) for r in records for m in r.get("labelsAdded", [])
    ]
    check((q3["id"], ("TRASH",)) in label_added, "trash recorded as labelsAdded")
    check(int(history["historyId"]) > int(start_history), "historyId moved")
    only_added = users.history().list(
        userId="me", startHistoryId=start_history, historyTypes=["messageAdded"]
    ).execute()
    check(all("labelsAdded" not in r for r in only_added["history"]), "historyTypes filter")

    # An attachment.
    with_pdf = users.messages().list(userId="me", q="has:attachment filename:pdf").execute()
    message = users.messages().get(userId="me", id=with_pdf["messages"][0]["id"]).execute()
    part = next(p for p in walk(message["payload"]) if p["filename"].endswith(".pdf"))
    check("data" not in part["body"], "attachments carry an attachmentId, not data")
    attachment = users.messages().attachments().get(
        userId="me", messageId=message["id"], id=part["body"]["attachmentId"]
    ).execute()
    data = b64decode(attachment["data"])
    check(data.startswith(b"%PDF-") and len(data) == part["body"]["size"], "attachment bytes")

    # Push notifications: watch and stop.
    watch = users.watch(
        userId="me", body={"topicName": "projects/demo/topics/gmail", "labelIds": ["INBOX"]}
    ).execute()
    check(int(watch["expiration"]) > 0 and watch["historyId"].isdigit(), f"watch: {watch}")
    users.stop(userId="me").execute()

    # Errors come back as HttpError with Google's shape.
    try:
        users.messages().get(userId="me", id="0000000000000000").execute()
        check(False, "unknown id")
    except HttpError as e:
        check(e.resp.status == 404 and e.reason == "Requested entity was not found.", str(e))

    print("gmail official client check: ok")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"gmail official client check FAILED: {e}", file=sys.stderr)
        sys.exit(1)
