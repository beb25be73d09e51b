"""jamsos: enrolment and premium billing of Kudus's vulnerable informal workers into BPJS TK."""
