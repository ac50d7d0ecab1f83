// Store.put_reviews: (:Review)-[:ABOUT {role}]->(:Face); unknown faces are skipped.
UNWIND $rows AS row
MATCH (r:Review {id: row.review})
MATCH (f:Face {id: row.node})
MERGE (r)-[:ABOUT {role: row.role}]->(f)
