#!/bin/sh
# Same contract as the official haproxy image: leading flags are passed to haproxy, and haproxy runs
# in master-worker mode (-W) in the foreground (-db) so `docker kill -s HUP` reloads it.
set -e
if [ "${1#-}" != "$1" ]; then
  set -- haproxy "$@"
fi
if [ "$1" = "haproxy" ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
