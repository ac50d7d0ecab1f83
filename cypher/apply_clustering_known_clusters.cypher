// Store.apply_clustering (check): the stored clusters among $ids.
UNWIND $ids AS id
MATCH (c:Cluster {id: id})
RETURN c.id AS id
