"""Send a message with smtplib, printing every command and reply.

Start smtp_server.py first (see the SMTP page), then:

    SMTP_PASSWORD='correct horse battery staple' \\
        python3 smtp_debug.py --cafile certs/ca.pem

The output shows the login too: keep it out of bug reports.
"""

import argparse
import os
import smtplib
import ssl
import sys
from email.message import EmailMessage

HOST = "127.0.0.1"
PORT = 8025  # smtp_server.py's
TIMEOUT = 10.0  # seconds for the connection and each reply


# --8<-- [start:send]
def send(
    message: EmailMessage,
    host: str,
    port: int,
    user: str,
    password: str,
    cafile: str | None = None,
) -> None:
    """Send over STARTTLS with a login, printing the whole dialogue."""
    context = ssl.create_default_context(cafile=cafile)
    with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
        smtp.set_debuglevel(1)  # 2 adds the time to each line
        smtp.starttls(context=context)
        smtp.login(user, password)
        smtp.send_message(message)


# --8<-- [end:send]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--user", default=os.environ.get("SMTP_USER", "ada"))
    parser.add_argument("--cafile", help="CA to trust (PEM): a local CA's")
    parser.add_argument("--from", dest="sender", default="ada@example.org")
    parser.add_argument("--to", default="grace@example.org")
    args = parser.parse_args()
    password = os.environ.get("SMTP_PASSWORD")
    if password is None:  # never an option: others see the command line
        sys.exit(f"Set SMTP_PASSWORD to the password of {args.user}")

    message = EmailMessage()
    message["From"] = args.sender
    message["To"] = args.to
    message["Subject"] = "Debugging SMTP"
    message.set_content("Hello from smtp_debug.py\n")
    try:
        send(message, args.host, args.port, args.user, password, args.cafile)
    except ConnectionRefusedError:
        sys.exit(f"No SMTP server at {args.host}:{args.port}")
    except ssl.SSLCertVerificationError as error:
        sys.exit(f"Untrusted certificate: {error.verify_message}")
    except smtplib.SMTPServerDisconnected as error:  # hung up, or silent
        sys.exit(f"{args.host}:{args.port} stopped answering: {error}")
    except smtplib.SMTPException as error:  # refused login, sender...
        sys.exit(f"The server refused: {error}")
    except OSError as error:  # timed out, reset
        sys.exit(f"SMTP with {args.host}:{args.port} failed: {error!r}")


if __name__ == "__main__":
    main()
