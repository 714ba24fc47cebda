#!/bin/sh
# Same contract as the official node image: flags or a script path are run with node,
# anything that is a command on PATH is run as is.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ] || ! command -v -- "$1" >/dev/null 2>&1; then
  set -- node "$@"
fi
exec "$@"
