#!/usr/bin/env python3
"""The sending end of the relay tests: Python's smtplib, driven by a JSON job on stdin.

The job names the server (host, port), an optional CA file for STARTTLS, and the messages
(from, to, hex data, smtputf8, eight_bit, declare_size, key). For each message one JSON
line is printed as soon as it is done: its key, the stage reached, the code and text of the
last reply (the 250 after DATA carries the queue id), and the per-recipient RCPT codes.

With "until_acknowledged", connection failures and 4xx replies are retried (reconnecting)
until the message is answered 250 after DATA or "deadline_seconds" pass: the client of the
restart test, which must see every message it was told was taken arrive.
"""
import json
import smtplib
import socket
import ssl
import sys
import time


def connect(job):
    client = smtplib.SMTP(job["host"], job["port"], local_hostname="client.test", timeout=20)
    client.ehlo()
    if job.get("cafile"):
        context = ssl.create_default_context(cafile=job["cafile"])
        client.starttls(context=context)
        client.ehlo()
    return client


def send_one(client, message):
    data = bytes.fromhex(message["data_hex"])
    options = []
    if message.get("declare_size", True) and client.has_extn("size"):
        options.append("SIZE=%d" % len(data))
    if message.get("smtputf8"):
        options.append("SMTPUTF8")
    if message.get("eight_bit"):
        options.append("BODY=8BITMIME")
    code, text = client.mail(message["from"], options)
    if code != 250:
        client.rset()
        return {"stage": "mail", "code": code, "reply": text.decode("utf-8", "replace")}
    rcpt_codes = []
    for recipient in message["to"]:
        code, text = client.rcpt(recipient)
        rcpt_codes.append(code)
    if 250 not in rcpt_codes:
        client.rset()
        return {"stage": "rcpt", "code": code, "reply": text.decode("utf-8", "replace"), "rcpt": rcpt_codes}
    try:
        code, text = client.data(data)
    except smtplib.SMTPDataError as error:
        return {"stage": "data", "code": error.smtp_code, "reply": error.smtp_error.decode("utf-8", "replace"), "rcpt": rcpt_codes}
    return {"stage": "data", "code": code, "reply": text.decode("utf-8", "replace"), "rcpt": rcpt_codes}


def main():
    job = json.load(sys.stdin)
    until_acknowledged = job.get("until_acknowledged", False)
    deadline = time.monotonic() + job.get("deadline_seconds", 30)
    client = None
    for message in job["messages"]:
        attempts = 0
        while True:
            attempts += 1
            try:
                if client is None:
                    client = connect(job)
                result = send_one(client, message)
                if until_acknowledged and 400 <= result["code"] < 500 and time.monotonic() < deadline:
                    raise ConnectionError("temporary failure %d" % result["code"])
            except (smtplib.SMTPException, OSError, ConnectionError, socket.timeout) as error:
                if client is not None:
                    try:
                        client.close()
                    except Exception:
                        pass
                client = None
                if until_acknowledged and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                result = {"stage": "connection", "code": 0, "reply": repr(error)}
            break
        result["key"] = message.get("key", "")
        result["attempts"] = attempts
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if client is not None:
        try:
            client.quit()
        except Exception:
            pass


if __name__ == "__main__":
    main()
