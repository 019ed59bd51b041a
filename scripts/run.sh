#!/usr/bin/env bash
# `make run`: starts mopay on the embedded SQLite store in ./data and says where to look.
set -euo pipefail
mopay=${1:-build/mopay}
listen=${MOPAY_LISTEN:-127.0.0.1:8080}
db=${MOPAY_DB:-sqlite:./data/mopay.db}
# A developer's webhook receiver is usually http://localhost:...: allowed here (not by a bare
# `mopay serve`), unless the environment says otherwise. See README.md, Configuration.
export MOPAY_WEBHOOK_ALLOW_PRIVATE=${MOPAY_WEBHOOK_ALLOW_PRIVATE:-true}
export MOPAY_WEBHOOK_ALLOW_INSECURE=${MOPAY_WEBHOOK_ALLOW_INSECURE:-true}
# a PostgreSQL URL may hold a password: say its scheme and host only
db_shown=$(printf '%s' "$db" | sed -E 's#^([a-z]+://)([^@/?]*@)?([^/?]*).*#\1\3#')
cat >&2 <<MSG
mopay $("$mopay" version | cut -d' ' -f2) starting
  database     $db_shown   (a new one prints its admin key once, below)
  health       curl http://$listen/healthz
  metrics      curl -H "Authorization: Bearer \$ADMIN_KEY" http://$listen/metrics
  API docs     docs/api.md
  webhooks     private addresses $MOPAY_WEBHOOK_ALLOW_PRIVATE, http:// $MOPAY_WEBHOOK_ALLOW_INSECURE (development; see README.md)
  stop         Ctrl-C (drains in-flight requests, then exits)
MSG
exec "$mopay" serve --listen "$listen" --db "$db"
