# A greeting server for websocketd: reads a name, answers "Hello <name>!".
read -r name
printf 'Hello %s!\n' "$name"
