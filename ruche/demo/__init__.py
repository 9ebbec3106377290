"""Demo data: a realistic French company, generated fast and reproducibly (`ruche demo`)."""
