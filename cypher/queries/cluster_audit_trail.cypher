// name: cluster_audit_trail
// answers: Every human decision that touches a cluster: about the cluster itself (merge, lock,
//          unlock, name, assign, remove) or about any of its current faces (same / different
//          person), oldest first, undone ones included and flagged.
// params:
//   cluster: string - a cluster id or person's name
// example: graphcluster query cluster_audit_trail -p cluster=Alice
MATCH (c:Cluster)
WHERE c.id = $cluster OR c.name = $cluster
OPTIONAL MATCH (f:Face)-[:IN_CLUSTER]->(c)
WITH c, collect(f.id) + [c.id] AS touching
MATCH (d:Decision)
WHERE d.a IN touching OR d.b IN touching
RETURN c.id AS cluster, d.id AS decision, d.kind AS kind, d.a AS a, d.b AS b, d.by AS by,
       d.at AS at, d.reason AS reason, coalesce(d.undone, false) AS undone
ORDER BY at, decision
