#!/usr/bin/env bash
# Checks the emulators against the providers' official Python clients: builds and starts
# each emulator with its demo data, runs gmail_client.py and gcal_client.py (Google's
# client), telegram_client.py (python-telegram-bot), slack_client.py (slack_sdk) and
# openai_client.py (the official openai client) against them, stops them, and exits non-zero if
# any check failed. Needs the packages pinned in .ci/requirements.txt.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
port="${PORT:-18085}"
gcal_port="${GCAL_PORT:-18086}"
token="${GMAIL_TOKEN:-official-client-check-token}"
gcal_token="${GCAL_TOKEN:-official-client-check-token}"
telegram_port="${TELEGRAM_PORT:-18087}"
telegram_token="${TELEGRAM_TOKEN:-7000000002:AAH-official-client-check}"
slack_port="${SLACK_PORT:-18088}"
slack_token="${SLACK_TOKEN:-xoxb-official-client-check}"
openai_port="${OPENAI_PORT:-18089}"
openai_key="${OPENAI_KEY:-sk-official-client-check}"

cd "$root"
cargo build -p patchbay-emulators --example gmail_serve --example gcal_serve --example telegram_serve \
    --example slack_serve --example openai_serve

servers=()
stop_servers() {
    for pid in "${servers[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_servers EXIT

# Waits until `url` answers at all (401 without a token counts).
wait_up() {
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "$1"; then
            return 0
        fi
        sleep 0.1
    done
}

PORT="$port" GMAIL_TOKEN="$token" target/debug/examples/gmail_serve &
servers+=($!)
# The calendar check expects the demo week of 1 March 2027.
PORT="$gcal_port" GCAL_TOKEN="$gcal_token" GCAL_NOW="2027-03-01T08:00:00Z" \
    target/debug/examples/gcal_serve &
gcal_pid=$!
servers+=("$gcal_pid")

PORT="$telegram_port" TELEGRAM_TOKEN="$telegram_token" target/debug/examples/telegram_serve &
servers+=($!)

PORT="$slack_port" SLACK_TOKEN="$slack_token" target/debug/examples/slack_serve &
servers+=($!)
PORT="$openai_port" OPENAI_KEY="$openai_key" target/debug/examples/openai_serve &
servers+=($!)

wait_up "http://127.0.0.1:$port/gmail/v1/users/me/profile"
wait_up "http://127.0.0.1:$openai_port/v1/models"
wait_up "http://127.0.0.1:$telegram_port/bot$telegram_token/getMe"
wait_up "http://127.0.0.1:$gcal_port/calendar/v3/users/me/calendarList"
wait_up "http://127.0.0.1:$slack_port/api/api.test"

status=0
GMAIL_BASE_URL="http://127.0.0.1:$port/" GMAIL_TOKEN="$token" \
    python3 "$here/gmail_client.py" || status=$?
GCAL_BASE_URL="http://127.0.0.1:$gcal_port/" GCAL_TOKEN="$gcal_token" GCAL_SERVER_PID="$gcal_pid" \
    python3 "$here/gcal_client.py" || status=$?
TELEGRAM_ROOT="http://127.0.0.1:$telegram_port" TELEGRAM_TOKEN="$telegram_token" \
    python3 "$here/telegram_client.py" || status=$?
SLACK_ROOT="http://127.0.0.1:$slack_port" SLACK_TOKEN="$slack_token" \
    python3 "$here/slack_client.py" || status=$?
OPENAI_BASE_URL="http://127.0.0.1:$openai_port/v1" OPENAI_KEY="$openai_key" \
    python3 "$here/openai_client.py" || status=$?
exit "$status"
