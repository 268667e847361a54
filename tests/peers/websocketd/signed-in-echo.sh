# An echo for websocketd that signs clients in as auth_server.py does: the
# first message must be the token in $WEBSOCKET_TOKEN (websocketd passes it
# on with --passenv), within 5 seconds; then each message comes back.
read -r -t 5 token || exit 1
[ "$token" = "$WEBSOCKET_TOKEN" ] || exit 1
exec cat
