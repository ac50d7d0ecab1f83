// Store.faces_linked_between: the faces at either end of a SIMILAR edge whose distance lies in
// [$lo, $hi) (the faces a change of the link threshold from $lo to $hi, or back, affects).
// A scan of the SIMILAR edges (it runs only after a re-calibration moved the threshold; an
// index on distance would cost every batch's writes); at most $limit edges.
MATCH (a:Face)-[r:SIMILAR]->(b:Face)
WHERE r.distance >= $lo AND r.distance < $hi
WITH a, b LIMIT $limit
UNWIND [a.id, b.id] AS id
RETURN DISTINCT id
