// WriterLease.fence: first statement of every write transaction while a lease is held. It
// locks the lease node until the transaction ends, checks that the lease is still ours with
// the same token and not expired, and extends it; otherwise nothing is renewed and the caller
// rolls the transaction back.
MATCH (l:Lease {name: $lease})
SET l.lock_ = true
WITH l, (l.holder = $holder AND l.token = $token AND l.expires_at >= datetime.realtime()) AS held
SET l.expires_at = CASE WHEN held THEN datetime.realtime() + duration({milliseconds: $ms}) ELSE l.expires_at END
REMOVE l.lock_
RETURN held, l.holder AS holder, l.token AS token, l.expires_at AS expires_at
