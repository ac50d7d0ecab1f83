// Store.put_reviews: (:Review)-[:ABOUT {role}]->(:Cluster); unknown clusters are skipped.
UNWIND $rows AS row
MATCH (r:Review {id: row.review})
MATCH (c:Cluster {id: row.node})
MERGE (r)-[:ABOUT {role: row.role}]->(c)
