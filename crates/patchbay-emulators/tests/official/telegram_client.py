"""Checks the Telegram Bot API emulator with python-telegram-bot, unchanged, pointed at the
emulator's root: bot identity, webhook set-up, commands, HTML messages, photo upload, file
download and webhook removal. Exits non-zero on the first mismatch."""

import asyncio
import os

from telegram import Bot, BotCommand
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken

ROOT = os.environ["TELEGRAM_ROOT"].rstrip("/")
TOKEN = os.environ["TELEGRAM_TOKEN"]
CHAT = 1001
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)


def bot(token):
    return Bot(token, base_url=f"{ROOT}/bot", base_file_url=f"{ROOT}/file/bot")


async def main():
    async with bot(TOKEN) as b:
        me = await b.get_me()
        assert me.is_bot and me.username, me
        assert me.id == int(TOKEN.split(":")[0]), me

        hook = "https://hooks.example/v1/webhooks/telegram/conn_1"
        assert await b.set_webhook(
            hook, secret_token="s3cret_Token-1", allowed_updates=["message", "callback_query"]
        )
        info = await b.get_webhook_info()
        assert info.url == hook, info
        assert list(info.allowed_updates) == ["message", "callback_query"], info

        commands = [BotCommand("start", "Start"), BotCommand("status", "Show status")]
        assert await b.set_my_commands(commands)
        got = await b.get_my_commands()
        assert [(c.command, c.description) for c in got] == [
            ("start", "Start"),
            ("status", "Show status"),
        ], got

        sent = await b.send_message(
            CHAT, "<b>bold</b> &lt;tag&gt; <a href=\"https://x.example/?a=1&amp;b=2\">link</a>",
            parse_mode=ParseMode.HTML,
        )
        assert sent.text == "bold <tag> link", sent.text
        kinds = sorted(e.type for e in sent.entities)
        assert kinds == ["bold", "text_link"], kinds
        link = [e for e in sent.entities if e.type == "text_link"][0]
        assert link.url == "https://x.example/?a=1&b=2", link

        try:
            await b.send_message(CHAT, "<b>open", parse_mode=ParseMode.HTML)
            raise AssertionError("unbalanced HTML was accepted")
        except BadRequest as e:
            assert "can't parse entities" in str(e).lower(), e
        try:
            await b.send_message(CHAT, "x" * 4097)
            raise AssertionError("a 4097-character message was accepted")
        except BadRequest as e:
            assert "too long" in str(e).lower(), e

        edited = await b.edit_message_text("edited", chat_id=CHAT, message_id=sent.message_id)
        assert edited.text == "edited", edited

        photo = await b.send_photo(CHAT, photo=PNG, caption="a pixel")
        assert photo.caption == "a pixel", photo
        largest = photo.photo[-1]
        file = await b.get_file(largest.file_id)
        assert file.file_size == len(PNG), file
        data = await file.download_as_bytearray()
        assert bytes(data) == PNG, data

        doc = await b.send_document(CHAT, document=b"hello, file", filename="hello.txt")
        assert doc.document.file_name == "hello.txt", doc.document
        f = await b.get_file(doc.document.file_id)
        assert bytes(await f.download_as_bytearray()) == b"hello, file"

        assert await b.delete_webhook()
        info = await b.get_webhook_info()
        assert info.url == "", info

    try:
        async with bot("123:not-a-token") as b:
            await b.get_me()
        raise AssertionError("an unknown token was accepted")
    except InvalidToken:
        pass
    print("telegram: python-telegram-bot works against the emulator")


asyncio.run(main())
