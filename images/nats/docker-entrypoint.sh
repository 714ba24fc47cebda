#!/bin/sh
# Same contract as the official nats alpine image: no arguments, or only flags, run nats-server with them;
# anything else (e.g. `nats-server -c /etc/nats/x.conf`, `sh`) runs as given.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- nats-server "$@"
fi
exec "$@"
