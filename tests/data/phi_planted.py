"""A planted set for the PHI screen (kit.data.phi): invented identifiers of every kind, written
as variants the patterns' own comments do not show (other separators, labels, spacing, case),
and clinical text that must not be flagged. Shared by tests/data/test_phi.py and
bench/phi_detection.py. Every value is made up; the SSNs are in ranges never issued or are
well-known specimen numbers, the phones use 555-01xx, the MBIs follow CMS's format only."""

from __future__ import annotations

# Batch 2 was written before it was first run against the patterns: 35 of its 36 were found
# then (missed: a surname with a particle, "Peter van Dyke"); batch 1 was written alongside.
PLANTED = {
    "SSN": ["Her social security number is 219 09 9999 per intake.", "SSN:078051120 on file",
            "ss# 123-45-6780 verified", "the card shows 555-12-3456.",
            "social security no. 501-22-8841", "SSN is 401 33 9210.", "(ssn 666120987)"],
    "phone number": ["Call the daughter at (617) 555-0143 tonight.", "cell 212.555.0199",
                     "reach him on +1 415 555 0100 after 5", "Fax: 1-800-555-0123",
                     "pager 303-555-0177", "Phone:(202)555-0112", "text 1.646.555.0188 anytime"],
    "email address": ["forward to j.okafor+clinic@mail.example.co.uk",
                      "Contact: RIVERA_M@health-sys.org", "email jdoe1971@gmail.com for records",
                      "<a.b-c@clinic.health>"],
    "MRN-like identifier": ["MRN#: 00482913", "medical record no. A-7719-22", "Acct # 99812-3",
                            "chart number 4471920", "MRN 7730021", "Patient ID: PX-448812",
                            "account no 0077-4412"],
    "member id": ["Member ID: XGH482913003", "subscriber # W2219 8812", "Policy No. 88-1234567",
                  "Medicaid ID 12345678A", "group number: 0047812", "Insurance ID# BCX99812001",
                  "Health plan number 443-22-1901-A", "Plan ID: HMO77120"],
    "Medicare MBI": ["Medicare number 1EG4-TE5-MK73 on the card", "MBI 9AA0AA0AA00",
                     "beneficiary id 5XK2T47PQ91.", "card reads 2N79-C33-UY28", "1AC3D45FG67",
                     "Medicare: 7HX9-Q42-RT10", "MBI#3PM5W88KN02"],
    "date of birth": ["DOB: 04/17/1958", "D.O.B. 1962-11-03", "date of birth is March 3, 1941",
                      "born on the 9th of July, 1975", "Birthdate 7.2.1990", "born 12-25-49",
                      "DOB 2/9/44", "dob:1980/01/31", "Date of Birth: Aug. 14, 1966",
                      "birthday 3 Feb 2001", "He was born on 11/23/1937."],
    "street address": ["lives at 4521 N. Oak Ave with her son", "Mail it to 17 Rue Cedar Street",
                       "Home: 900 West Martin Luther King Blvd.", "PO Box 3321",
                       "moved to 31 5th Avenue last year", "Springfield, IL 62704",
                       "1600 Pennsylvania Ave NW", "resides at 22 Elm Rd, apartment 3",
                       "P.O. Box 118, Eugene, OR 97401", "200 East 42nd Street"],
    "person name": ["Patient: Maria Gonzalez-Ruiz", "Pt - John Q. Public", "a woman named Ana Lima",
                    "Dear Samuel Okafor,", "Mrs. Whitfield was seen today",
                    "Emergency contact: Li Wei", "Patient name: Tomasz Nowak",
                    "Patient:  Robert  Brown", "Resident - Agnes Moore", "Ms Delgado called",
                    "Guardian: Peter van Dyke", "Subscriber: Chen Jun", "Mr. O'Brien arrived late"],
}

# Clinical and administrative text with numbers, codes, provider ids and placeholders: none of
# it identifies a patient.
CLEAN = ["Take 2 tablets twice a day for 10 days.", "CPT 99213 is an established patient visit.",
         "ICD-10 S93.401A: sprain of right ankle.", "Referring provider NPI 1234567893.",
         "Walked 3 blocks down the road without pain.", "Follow up in 2 weeks at the clinic.",
         "BP 128/82, HR 76, temp 98.6 F.", "Patient: [Patient name]", "Member ID: [Member ID]",
         "Dr. Patel reviewed the MRI.", "Name: please fill in", "Patient Portal Access is open 24/7.",
         "Dosage: 500 mg every 8 hours, max 4000 mg/day.", "Prior auth #: pending review",
         "Appointment on 03/04/2026 at 10:30.", "Born in the 1950s, the patient smokes.",
         "HbA1c 7.2% on 2026-01-15; LDL 130 mg/dL.", "Room 4B, bed 2, ward 7 East.",
         "Claim total $1,245.00 for 3 units of 97110.", "Call 911 if chest pain returns.",
         "Patient - Initial Visit", "Client: Acme Health Services", "Dear Billing Department,",
         "Patient: New Referral", "Name: Prior Authorization Request", "Dear Care Team,"]
