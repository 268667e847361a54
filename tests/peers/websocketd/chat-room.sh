# A one-person chat room for websocketd, speaking chat_server.py's protocol:
# a join event, then each line sent comes back as a message event. The name
# is in the query string (?name=Ada), which websocketd passes as a CGI
# variable. (No JSON escaping: the tests send plain text, or \u escapes.)
name=${QUERY_STRING#name=}
printf '{"type": "join", "name": "%s", "online": 1}\n' "$name"
while IFS= read -r line; do
    printf '{"type": "message", "name": "%s", "text": "%s"}\n' "$name" "$line"
done
