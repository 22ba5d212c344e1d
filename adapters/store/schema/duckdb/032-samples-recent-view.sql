-- The tail, one row per (sample, metric reported), as samples (031).
CREATE VIEW samples_recent AS
SELECT patient_key, patient_id, device_id, ward, 'hr' AS metric, epoch_ms(ts_ms) AS ts, ts_ms, v_hr AS value, q_hr AS quality, source, recv_ts_ms, trace_id FROM samples_recent_wide WHERE v_hr IS NOT NULL
UNION ALL
SELECT patient_key, patient_id, device_id, ward, 'spo2' AS metric, epoch_ms(ts_ms) AS ts, ts_ms, v_spo2 AS value, q_spo2 AS quality, source, recv_ts_ms, trace_id FROM samples_recent_wide WHERE v_spo2 IS NOT NULL
UNION ALL
SELECT patient_key, patient_id, device_id, ward, 'rr' AS metric, epoch_ms(ts_ms) AS ts, ts_ms, v_rr AS value, q_rr AS quality, source, recv_ts_ms, trace_id FROM samples_recent_wide WHERE v_rr IS NOT NULL
UNION ALL
SELECT patient_key, patient_id, device_id, ward, 'temp' AS metric, epoch_ms(ts_ms) AS ts, ts_ms, v_temp AS value, q_temp AS quality, source, recv_ts_ms, trace_id FROM samples_recent_wide WHERE v_temp IS NOT NULL
UNION ALL
SELECT patient_key, patient_id, device_id, ward, 'sbp' AS metric, epoch_ms(ts_ms) AS ts, ts_ms, v_sbp AS value, q_sbp AS quality, source, recv_ts_ms, trace_id FROM samples_recent_wide WHERE v_sbp IS NOT NULL
UNION ALL
SELECT patient_key, patient_id, device_id, ward, 'dbp' AS metric, epoch_ms(ts_ms) AS ts, ts_ms, v_dbp AS value, q_dbp AS quality, source, recv_ts_ms, trace_id FROM samples_recent_wide WHERE v_dbp IS NOT NULL
