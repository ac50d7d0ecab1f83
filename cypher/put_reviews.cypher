// Store.put_reviews: upsert Review nodes and drop their ABOUT relationships (re-created next).
UNWIND $rows AS row
MERGE (r:Review {id: row.id})
SET r += row
WITH r
OPTIONAL MATCH (r)-[x:ABOUT]->()
DELETE x
