-- Running service processes (`jamsos run`, `jamsos up`) with an HTTP endpoint: each records
-- itself at start, refreshes heartbeat_at on its monitor timer and deletes its row on a clean
-- stop. `jamsos ops health` probes the /health of every row with a recent heartbeat.
CREATE TABLE service_processes (
    id           uuid PRIMARY KEY,
    host         text NOT NULL,
    http_port    integer NOT NULL CHECK (http_port BETWEEN 1 AND 65535),
    services     text[] NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
