-- Existing tail rows, the same way.
INSERT INTO samples_recent_wide
SELECT patient_key, patient_id, device_id, ward, ts_ms, source, recv_ts_ms, trace_id,
  any_value(value) FILTER (WHERE metric = 'hr'), any_value(quality) FILTER (WHERE metric = 'hr'),
  any_value(value) FILTER (WHERE metric = 'spo2'), any_value(quality) FILTER (WHERE metric = 'spo2'),
  any_value(value) FILTER (WHERE metric = 'rr'), any_value(quality) FILTER (WHERE metric = 'rr'),
  any_value(value) FILTER (WHERE metric = 'temp'), any_value(quality) FILTER (WHERE metric = 'temp'),
  any_value(value) FILTER (WHERE metric = 'sbp'), any_value(quality) FILTER (WHERE metric = 'sbp'),
  any_value(value) FILTER (WHERE metric = 'dbp'), any_value(quality) FILTER (WHERE metric = 'dbp')
FROM samples_recent GROUP BY patient_key, patient_id, device_id, ward, ts_ms, source, recv_ts_ms, trace_id
ORDER BY patient_key, ts_ms
