// WriterLease.release: give the lease up (only when it is still ours with this token).
MATCH (l:Lease {name: $lease})
WHERE l.holder = $holder AND l.token = $token
SET l.holder = null, l.expires_at = null
