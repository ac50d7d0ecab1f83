// Store.face_ids: every face id.
MATCH (f:Face)
RETURN f.id AS id
ORDER BY id
