// WriterLease.acquire: take the lease when it is free, expired or already ours. The first SET
// takes the node's write lock, so the values read after it are the latest committed ones
// (two workers never both see it free); every acquisition gets the next fencing token.
MERGE (l:Lease {name: $lease})
SET l.lock_ = true
WITH l, (l.holder IS NULL OR l.holder = $holder OR l.expires_at < datetime.realtime()) AS free
SET l.holder = CASE WHEN free THEN $holder ELSE l.holder END,
    l.token = CASE WHEN free THEN coalesce(l.token, 0) + 1 ELSE l.token END,
    l.expires_at = CASE WHEN free THEN datetime.realtime() + duration({milliseconds: $ms}) ELSE l.expires_at END
REMOVE l.lock_
RETURN free AS acquired, l.holder AS holder, l.token AS token, l.expires_at AS expires_at
