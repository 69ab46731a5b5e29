"""Patient enrolment by site staff, the patient record, and its sync to safety_api."""
