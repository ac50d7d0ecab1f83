// Store.clear: delete graphcluster's nodes in chunks (run until it returns 0).
MATCH (n)
WHERE n:Face OR n:Cluster OR n:Decision OR n:Review OR n:Meta
WITH n LIMIT $chunk
DETACH DELETE n
RETURN count(*) AS deleted
