# Says one thing in chat_server.py's protocol, then leaves the room.
printf '{"type": "message", "name": "websocketd", "text": "Hello, \\u001b[1mwatcher\\u001b[0m"}\n'
