"""Drives the Calendar emulator with Google's own Python client (google-api-python-client),
unchanged, with the calendar v3 service built from the library's bundled discovery
document and pointed at the emulator. Exits non-zero on the first failed check.

Environment: GCAL_BASE_URL (the emulator's root, e.g. http://127.0.0.1:8086/), GCAL_TOKEN,
and GCAL_SERVER_PID (the emulator process, which expires its sync tokens on SIGUSR1).
The emulator must serve the demo calendars (`seed_demo`) with "now" fixed at
2027-03-01T08:00:00Z (`GCAL_NOW`), so the demo week is 1-5 March 2027.
"""

import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google.oauth2.credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

ROOT = os.environ["GCAL_BASE_URL"]
TOKEN = os.environ["GCAL_TOKEN"]
SERVER_PID = int(os.environ["GCAL_SERVER_PID"])
ADA = "ada@example.com"
WEEK = {"timeMin": "2027-03-01T00:00:00+01:00", "timeMax": "2027-03-06T00:00:00+01:00"}


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def page_all(resource, request):
    """Every item of a listing via list_next, the number of pages, and the last page."""
    items, pages, page = [], 0, None
    while request is not None:
        page = request.execute()
        pages += 1
        items += page.get("items", [])
        if "nextPageToken" in page:
            check("nextSyncToken" not in page, "nextSyncToken only on the last page")
        request = resource.list_next(request, page)
    return items, pages, page


class Hook(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        Hook.received.append((self.headers, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def wait_for(condition, what, seconds=5):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def main():
    creds = google.oauth2.credentials.Credentials(token=TOKEN)
    calendar = build(
        "calendar",
        "v3",
        credentials=creds,
        client_options={"api_endpoint": urllib.parse.urljoin(ROOT, "calendar/v3/")},
        static_discovery=True,
    )
    events = calendar.events()

    # The calendar list, one entry per page.
    calendar_list = calendar.calendarList()
    entries, pages, last = page_all(calendar_list, calendar_list.list(maxResults=1))
    check(pages == 2 and [e.get("primary") for e in entries] == [True, None], f"list: {entries}")
    check(entries[0]["id"] == ADA and entries[0]["timeZone"] == "Europe/Berlin", "primary entry")
    check("nextSyncToken" in last, "calendar list sync token")
    team = entries[1]["id"]
    check(calendar.calendars().get(calendarId="primary").execute()["id"] == ADA, "calendars.get")

    # The demo week, expanded and in start order, paged to the end.
    request = events.list(
        calendarId="primary", singleEvents=True, orderBy="startTime", maxResults=4, **WEEK
    )
    week, pages, last = page_all(events, request)
    check(pages == 3 and len(week) == 12, f"{pages} pages, {len(week)} events")
    check("nextSyncToken" in last, "a sync token on the last page")
    starts = [e["start"]["dateTime"] for e in week]
    check(starts[0] == "2027-03-01T09:30:00+01:00" and week[0]["summary"] == "Daily standup", starts)
    check("2027-03-03T09:30:00+01:00" not in starts, "the EXDATE'd standup is missing")
    check("2027-03-04T11:00:00+01:00" in starts, "the moved standup")
    design = next(e for e in week if e["summary"] == "Design review")
    check(design["hangoutLink"] == "https://meet.google.com/abc-defg-hij", "seeded Meet link")

    # A full sync, then an insert with a new Meet, then an incremental sync.
    _, _, last = page_all(events, events.list(calendarId="primary", maxResults=5))
    sync_token = last["nextSyncToken"]
    body = {
        "summary": "Official client meeting",
        "start": {"dateTime": "2027-03-08T10:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2027-03-08T11:00:00", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": ADA}, {"email": "grace.hopper@example.org"}],
        "conferenceData": {
            "createRequest": {"requestId": "official-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}
        },
    }
    created = events.insert(
        calendarId="primary", body=body, conferenceDataVersion=1, sendUpdates="none"
    ).execute()
    check(created["start"]["dateTime"] == "2027-03-08T10:00:00+01:00", created["start"])
    data = created["conferenceData"]
    check(data["createRequest"]["status"]["statusCode"] == "success", data)
    check(data["entryPoints"][0]["entryPointType"] == "video", data)
    check(created["hangoutLink"] == data["entryPoints"][0]["uri"], "hangoutLink")
    check(created["hangoutLink"].startswith("https://meet.google.com/"), created["hangoutLink"])
    changed = events.list(calendarId="primary", syncToken=sync_token).execute()
    check([e["id"] for e in changed["items"]] == [created["id"]], f"sync: {changed['items']}")
    sync_token = changed["nextSyncToken"]

    # RSVP: a patch of the attendees.
    attendees = created["attendees"]
    for attendee in attendees:
        if attendee.get("self"):
            attendee["responseStatus"] = "accepted"
    patched = events.patch(
        calendarId="primary", eventId=created["id"], body={"attendees": attendees}
    ).execute()
    mine = next(a for a in patched["attendees"] if a.get("self"))
    check(mine["responseStatus"] == "accepted", f"rsvp: {mine}")
    check(patched["summary"] == body["summary"], "patch keeps other fields")

    # Instances of the weekly series across the DST change of 28 March.
    weekly = next(e for e in week if e["summary"] == "Weekly sync")
    instances = events.instances(
        calendarId="primary",
        eventId=weekly["recurringEventId"],
        timeMin="2027-03-20T00:00:00Z",
        timeMax="2027-04-10T00:00:00Z",
        maxResults=2,
    )
    found, pages, _ = page_all(events, instances)
    check(pages == 2, f"instances pages: {pages}")
    check(
        [i["start"]["dateTime"] for i in found]
        == ["2027-03-23T10:00:00+01:00", "2027-03-30T10:00:00+02:00", "2027-04-06T10:00:00+02:00"],
        f"instances: {[i['start'] for i in found]}",
    )
    check(all(i["recurringEventId"] == weekly["recurringEventId"] for i in found), "recurringEventId")

    # quickAdd, then delete: the event stays, cancelled.
    quick = events.quickAdd(calendarId="primary", text="Lunch with Zoë tomorrow at 12pm").execute()
    check(quick["summary"] == "Lunch with Zoë", quick)
    check(quick["start"]["dateTime"] == "2027-03-02T12:00:00+01:00", quick["start"])
    check(quick["end"]["dateTime"] == "2027-03-02T13:00:00+01:00", quick["end"])
    check(events.delete(calendarId="primary", eventId=quick["id"]).execute() == "", "delete")
    gone = events.get(calendarId="primary", eventId=quick["id"]).execute()
    check(gone["status"] == "cancelled", gone)
    changed = events.list(calendarId="primary", syncToken=sync_token).execute()
    statuses = {e["id"]: e["status"] for e in changed["items"]}
    check(statuses.get(quick["id"]) == "cancelled", f"cancelled in sync: {statuses}")
    try:
        events.delete(calendarId="primary", eventId=quick["id"]).execute()
        check(False, "deleting twice")
    except HttpError as e:
        check(e.resp.status == 410, str(e))

    # Free/busy on Tuesday: the transparent focus time is free.
    busy = calendar.freebusy().query(body={
        "timeMin": "2027-03-02T00:00:00+01:00",
        "timeMax": "2027-03-03T00:00:00+01:00",
        "timeZone": "Europe/Berlin",
        "items": [{"id": "primary"}, {"id": team}, {"id": "nobody@example.com"}],
    }).execute()
    periods = [(p["start"], p["end"]) for p in busy["calendars"]["primary"]["busy"]]
    check(periods == [
        ("2027-03-02T09:30:00+01:00", "2027-03-02T09:45:00+01:00"),
        ("2027-03-02T10:00:00+01:00", "2027-03-02T11:00:00+01:00"),
        ("2027-03-02T14:00:00+01:00", "2027-03-02T15:00:00+01:00"),
    ], f"busy: {periods}")
    check(busy["calendars"]["nobody@example.com"]["errors"][0]["reason"] == "notFound", "notFound")

    # Push: watch, the sync message, a change, stop.
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{hook.server_address[1]}/notify"
    channel = events.watch(calendarId="primary", body={
        "id": "official-client-channel", "type": "web_hook", "address": address,
        "token": "from=official-client", "params": {"ttl": "600"},
    }).execute()
    check(channel["kind"] == "api#channel" and channel["resourceId"], channel)
    wait_for(lambda: len(Hook.received) >= 1, "the sync message")
    headers, body = Hook.received[0]
    check(headers["X-Goog-Resource-State"] == "sync" and body == b"", headers)
    check(headers["X-Goog-Channel-Token"] == "from=official-client", headers)
    events.patch(calendarId="primary", eventId=created["id"], body={"location": "Room Lovelace"}).execute()
    wait_for(lambda: len(Hook.received) >= 2, "a change notification")
    headers, _ = Hook.received[1]
    check(headers["X-Goog-Resource-State"] == "exists" and headers["X-Goog-Message-Number"] == "2", headers)
    calendar.channels().stop(body={"id": channel["id"], "resourceId": channel["resourceId"]}).execute()
    try:
        calendar.channels().stop(body={"id": channel["id"], "resourceId": channel["resourceId"]}).execute()
        check(False, "stopping twice")
    except HttpError as e:
        check(e.resp.status == 404, str(e))
    hook.shutdown()

    # Sync tokens: an expired one is 410 fullSyncRequired.
    os.kill(SERVER_PID, signal.SIGUSR1)
    deadline = time.time() + 5
    while True:
        try:
            events.list(calendarId="primary", syncToken=sync_token).execute()
        except HttpError as e:
            check(e.resp.status == 410, str(e))
            check(e.error_details[0]["reason"] == "fullSyncRequired", e.error_details)
            check(e.reason == "Sync token is no longer valid, a full sync is required.", e.reason)
            break
        check(time.time() < deadline, "the sync token never expired")
        time.sleep(0.05)

    print("gcal official client check: ok")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"gcal official client check FAILED: {e}", file=sys.stderr)
        sys.exit(1)
