"""Law-enforcement risk lens: agent lists, natural/accidental/deliberate indicators, analyst worksheets, EpiRisk."""
