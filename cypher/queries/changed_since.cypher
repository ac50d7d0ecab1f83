// name: changed_since
// answers: Clusters created or changed at or after a point in time, most recent first (what a
//          reviewer should look at since their last visit).
// params:
//   since: datetime - an ISO-8601 time, e.g. 2024-05-01T00:00:00Z
//   limit: int = 100 - at most this many clusters
// example: graphcluster query changed_since -p since=2024-05-01T00:00:00Z
MATCH (c:Cluster)
WHERE c.updated_at >= datetime($since)
RETURN c.id AS cluster, c.name AS name, c.size AS size, c.locked AS locked,
       c.created_at AS created_at, c.updated_at AS updated_at,
       c.created_at >= datetime($since) AS new
ORDER BY updated_at DESC, cluster
LIMIT $limit
