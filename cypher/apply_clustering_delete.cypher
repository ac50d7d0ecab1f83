// Store.apply_clustering: delete the clusters in $ids (the caller checked they are empty).
UNWIND $ids AS id
MATCH (c:Cluster {id: id})
DETACH DELETE c
