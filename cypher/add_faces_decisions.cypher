// Store.add_faces: the decisions made with the faces (same-image cannot-links), in the faces'
// transaction: one Decision node each and, unless undone, its typed link (idempotent by id).
UNWIND $rows AS row
MERGE (d:Decision {id: row.props.id})
SET d += row.props
WITH row
WHERE row.link IS NOT NULL AND NOT row.props.undone
MATCH (a:Face {id: row.props.a})
MATCH (b:Face {id: row.props.b})
FOREACH (_ IN CASE WHEN row.link = 'must' THEN [1] ELSE [] END |
  MERGE (a)-[r:MUST_LINK {id: row.props.id}]->(b)
  SET r.by = row.props.by, r.at = row.props.at, r.reason = row.props.reason)
FOREACH (_ IN CASE WHEN row.link = 'cannot' THEN [1] ELSE [] END |
  MERGE (a)-[r:CANNOT_LINK {id: row.props.id}]->(b)
  SET r.by = row.props.by, r.at = row.props.at, r.reason = row.props.reason)
