/* SPDX-License-Identifier: MIT */
/*
 * A record as one HL7 FHIR R4 Observation, following the HL7 FHIR Personal
 * Health Device (PHD) IG. Codes and units come from the metric table
 * (hub/metrics.h). Compact JSON in a fixed key order (resourceType
 * first), so equal records give equal bytes; not sorted, because sorting
 * cost more than building the document.
 *
 * Elements
 * --------
 * meta.profile     PhdNumericObservation, or PhdCompoundNumericObservation
 *                  for blood pressure (http://hl7.org/fhir/uv/phd/...)
 * extension        observation-gatewayDevice -> "Device/<gateway id>"
 * identifier       {system FHIR_IDENTIFIER_SYSTEM, value record.id}: stable
 *                  across resends, for conditional create. Not the IG's
 *                  conditionalCreate slice: that one has no system and a
 *                  value built by the IG's own formula.
 * status           final; preliminary when the device says the measurement
 *                  is ongoing or an early estimate
 * category         phd-observation; also vital-signs where the metric is one
 *                  (never for a control solution)
 * code             MDC coding (code as string, display the MDC_ reference
 *                  id) and LOINC coding(s); a metric without either gets a
 *                  FHIR_METRIC_SYSTEM coding with its short name
 * subject          "Patient/<pseudonymous id>": never a name
 * effectiveDateTime the record's instant with its UTC offset, to the second
 *                  (2024-11-29T23:08:57+01:00, summer +02:00)
 * issued           receive time, likewise
 * device           "Device/phd-<BD_ADDR hex>" plus identifier
 *                  http://hl7.org/fhir/sid/eui-48/bluetooth "AA-BB-..": the
 *                  IG names PHD Devices phd-<system id>.<address>; varde
 *                  has no 11073 system id, so the address alone
 * valueQuantity    canonical unit and precision (metrics.h); value, unit and
 *                  code are UCUM, system http://unitsofmeasure.org
 * component        blood pressure: systolic, diastolic, mean, each with MDC
 *                  and LOINC coding and its own value or dataAbsentReason.
 *                  Glucose: context and HbA1c, one component each (MDC code
 *                  where one exists; coded values as valueCodeableConcept
 *                  with the MDC enumeration code, text the meaning). Then
 *                  one component per status bit, see below.
 * bodySite         SNOMED CT: armpit 91470000, ear and earlobe 48800003,
 *                  finger 7569003, GI tract 122865005, mouth 74262004,
 *                  rectum 34402009, toe 29707007, tympanum 42859004;
 *                  alternate site as text only; body (general) none
 * note             control solution; time from receipt
 *
 * Special values (IG, FLOATs page): no value[x], dataAbsentReason from
 * http://terminology.hl7.org/CodeSystem/data-absent-reason: NaN
 * not-a-number, +INF positive-infinity, -INF negative-infinity, NRes error
 * (text "Not at this resolution (NRes)"). In a blood pressure part the
 * part carries it.
 *
 * Status bits
 * -----------
 * As the IG maps IEEE 11073 Measurement-Status:
 *   INVALID             dataAbsentReason error, no value (and no parts)
 *   QUESTIONABLE        interpretation measurement-status questionable
 *   CALIBRATION_ONGOING interpretation calibration-ongoing
 *   TEST_DATA           meta.security HTEST (v3-ActReason)
 *   MEASUREMENT_ONGOING status preliminary, interpretation early-indication.
 *                       The IG maps msmt-ongoing to dataAbsentReason
 *                       temp-unknown, but varde merges it with 'early
 *                       estimate', whose value the device did give: it is
 *                       kept, marked preliminary (the rules never alert on
 *                       it).
 * (interpretation system http://hl7.org/fhir/uv/pocd/CodeSystem/
 * measurement-status.) RESULT_TOO_HIGH / _LOW put comparator '>' / '<' on
 * the device's value (its limit); with a special value the
 * dataAbsentReason stands; both at once are an error.
 * Every set bit is also one component, as the IG's BITs observations do
 * it: code FHIR_STATUS_SYSTEM#<name> (names in fhir.c), plus the IG's
 * ASN1ToHL7 code where the bit is exactly one bit of the device's status
 * attribute: blood pressure 8410608.0-5 (body movement, cuff loose,
 * irregular pulse, pulse above/below range, improper position), glucose
 * 8417752.0 battery low, .5/.6 result too high/low, .11 temperature out of
 * range, oximetry 150604.10 low perfusion. Merged bits (strip error,
 * equipment fault, signal artifact, sensor displaced) get no ASN1 code
 * rather than a wrong one. valueCodeableConcept v2-0136 Y.
 *
 * Control solution (metric, or the status bit on any glucose record): code
 * MDC_CONC_GLU_CONTROL 160208 and no LOINC, meta.security HTEST, a note.
 * It is still produced: the caller decides whether to publish it.
 *
 * Time from receipt (RECORD_TIME_FROM_RECEIPT): component
 * FHIR_STATUS_SYSTEM#time-from-receipt and a note. The IG reports the
 * receive time when the device gave none and links a Coincident Time Stamp
 * Observation when it did; varde sends no such observation.
 */
#ifndef VARDE_FHIR_H
#define VARDE_FHIR_H

#include "record.h"

/* varde's own systems. URNs, as varde owns no domain for them. */
#define FHIR_IDENTIFIER_SYSTEM "urn:varde:observation"
#define FHIR_STATUS_SYSTEM "urn:varde:measurement-status"
#define FHIR_METRIC_SYSTEM "urn:varde:metric"

/*
 * The Observation for `r`, as malloc'd NUL-terminated JSON. Returns NULL
 * with errno EPERM for a quarantined record (it is no one's observation),
 * EINVAL for a malformed record (unknown metric, a unit that does not fit,
 * bad address, time or ids; `gateway_device_id` is the logical id of the
 * gateway's Device resource, letters, digits, '.', '_', '-'), or ENOMEM.
 */
char *fhir_observation(const struct record *r, const char *gateway_device_id);

#endif /* VARDE_FHIR_H */
