// Store.apply_clustering (check): clusters among $ids that still have members, with their count.
UNWIND $ids AS id
MATCH (c:Cluster {id: id})
WITH c, COUNT { (c)<-[:IN_CLUSTER]-() } AS members
WHERE members > 0
RETURN c.id AS id, members
