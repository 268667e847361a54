"""Send an email with an attachment: SMTP with STARTTLS and a login.

Start smtp_server.py first, then:

    python3 smtp_send.py --cafile certs/ca.pem

It asks for the password (the test server's is "correct horse battery
staple"), or reads it from the environment variable SMTP_PASSWORD; the
user name comes from --user, or SMTP_USER, or is "ada". --from and --to
change the sender and the recipient.
"""

import argparse
import getpass
import mimetypes
import os
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

HOST = "127.0.0.1"
PORT = 8025  # a real submission server listens on 587
TIMEOUT = 10.0  # seconds: for connecting, and for each reply after that
USER = "ada"
MAKE_CA = "python3 make_local_ca.py"  # makes certs/ca.pem
SENDER, RECIPIENT = "ada@example.com", "bob@example.org"


# --8<-- [start:build]
def build_message(
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    filename: str,
    data: bytes,
) -> EmailMessage:
    """A plain-text email with one file attached."""
    message = EmailMessage()  # the modern API: policy=email.policy.default
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    # A domain of our own: else make_msgid() looks up this machine's name.
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(text)
    # The type tells the reader's mail program what to open the file with.
    mime_type = mimetypes.guess_type(filename)[0]
    maintype, subtype = (mime_type or "application/octet-stream").split("/")
    # Bytes are sent base64-encoded: any file survives the trip unchanged.
    message.add_attachment(
        data,
        maintype=maintype,
        subtype=subtype,
        filename=filename,
    )
    return message


# --8<-- [end:build]
# --8<-- [start:send]
def send(
    message: EmailMessage,
    user: str,
    password: str,
    cafile: Path | None = None,
    host: str = HOST,
    port: int = PORT,
) -> None:
    """Send `message` over TLS as `user`; raise if any recipient is refused."""
    # Verifies the server's certificate and name. cafile=None trusts the
    # system's authorities, which is right for a real mail server.
    context = ssl.create_default_context(cafile=cafile)
    with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
        # Raises SMTPNotSupportedError if the server does not offer STARTTLS,
        # rather than carrying on in clear text.
        smtp.starttls(context=context)
        smtp.login(user, password)  # only now: the password is encrypted
        refused = smtp.send_message(message)
    # send_message() raises only if every recipient is refused; it returns
    # the others, which are easy to miss.
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


# --8<-- [end:send]
# --8<-- [start:errors]
def reason(error: Exception, host: str, port: int, user: str) -> str:
    """One line that says what went wrong, and what to do about it."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{address}: {code} {text.decode(errors='replace')}"
            for address, (code, text) in error.recipients.items()
        )
        return f"Recipient refused: {refused}"
    if isinstance(error, smtplib.SMTPResponseException):  # a refusal
        said = f"{error.smtp_code} {error.smtp_error.decode(errors='replace')}"
        if isinstance(error, smtplib.SMTPAuthenticationError):
            return f"Login refused for {user!r}: {said}"
        return f"The server refused: {said}"
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return f"{where} cannot do this safely: {error}"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        if isinstance(error.__context__, TimeoutError):
            return f"No answer from {where} within {TIMEOUT:g} s"
        return f"{where} closed the connection"
    if isinstance(error, ConnectionRefusedError):
        return f"No server at {where}: start smtp_server.py"
    if isinstance(error, TimeoutError):
        return f"No answer from {where} within {TIMEOUT:g} s"
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"Certificate of {host} not trusted ({error.verify_message}):"
            f" pass --cafile certs/ca.pem ({MAKE_CA} makes it)"
        )
    return f"Sending through {where} failed: {error}"


# --8<-- [end:errors]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="e.g. ::1 for IPv6")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--cafile", type=Path, help="e.g. certs/ca.pem")
    parser.add_argument("--user", default=os.environ.get("SMTP_USER", USER))
    parser.add_argument("--from", dest="sender", default=SENDER)
    parser.add_argument("--to", dest="recipient", default=RECIPIENT)
    args = parser.parse_args()
    if args.cafile and not args.cafile.is_file():
        sys.exit(f"No CA file {args.cafile}: {MAKE_CA} makes it")
    # Never a password on the command line: other users see it in `ps`.
    password = os.environ.get("SMTP_PASSWORD") or getpass.getpass()

    report = b"day,orders\r\nMonday,12\r\nTuesday,17\r\n"
    message = build_message(
        args.sender, args.recipient, "Weekly report",
        "Hello,\n\nThis week's orders are attached.\n\nAda\n",
        "orders.csv", report,
    )  # fmt: skip
    try:
        send(message, args.user, password, args.cafile, args.host, args.port)
    except OSError as error:  # smtplib's errors are OSErrors too
        sys.exit(reason(error, args.host, args.port, args.user))
    print(f"Sent {message['Subject']!r} to {message['To']}")
    #> Sent 'Weekly report' to bob@example.org


if __name__ == "__main__":
    main()
