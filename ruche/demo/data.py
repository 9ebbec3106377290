"""The fixed vocabulary of the demo company: French cities, industries, products, subjects.

Names of people and streets come from Faker (fr_FR), seeded; everything here is constant so
that a seed always yields the same data.
"""

from decimal import Decimal

DEMO_DOMAIN = "ruche.demo"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"
# Every demo user signs in with this password (documented in README.md).
DEMO_PASSWORD = "ruche-demo-2025"

COMPANY = {
    "name": "Alvéole Solutions SAS",
    "address": "12 rue de la République\n69002 Lyon\nFrance",
    "siren_seed": 4242,
}

TEAMS = ("Grands comptes", "PME")

# (city, postal codes, weight): real cities, postal codes that belong to them.
CITIES = (
    ("Paris", tuple(f"750{n:02d}" for n in range(1, 21)), 30),
    ("Lyon", tuple(f"6900{n}" for n in range(1, 10)), 9),
    ("Marseille", tuple(f"130{n:02d}" for n in range(1, 17)), 8),
    ("Toulouse", ("31000", "31100", "31200", "31300", "31400", "31500"), 6),
    ("Nice", ("06000", "06100", "06200", "06300"), 4),
    ("Nantes", ("44000", "44100", "44200", "44300"), 4),
    ("Strasbourg", ("67000", "67100", "67200"), 4),
    ("Montpellier", ("34000", "34070", "34080", "34090"), 4),
    ("Bordeaux", ("33000", "33100", "33200", "33300", "33800"), 5),
    ("Lille", ("59000", "59160", "59260", "59777", "59800"), 5),
    ("Rennes", ("35000", "35200", "35700"), 3),
    ("Reims", ("51100",), 2),
    ("Le Havre", ("76600", "76610", "76620"), 2),
    ("Saint-Étienne", ("42000", "42100"), 2),
    ("Toulon", ("83000", "83100", "83200"), 2),
    ("Grenoble", ("38000", "38100"), 3),
    ("Dijon", ("21000",), 2),
    ("Angers", ("49000", "49100"), 2),
    ("Nîmes", ("30000", "30900"), 1),
    ("Villeurbanne", ("69100",), 2),
    ("Clermont-Ferrand", ("63000", "63100"), 2),
    ("Le Mans", ("72000", "72100"), 1),
    ("Aix-en-Provence", ("13090", "13100", "13290"), 2),
    ("Brest", ("29200",), 1),
    ("Tours", ("37000", "37100", "37200"), 2),
    ("Amiens", ("80000", "80080", "80090"), 1),
    ("Limoges", ("87000", "87100", "87280"), 1),
    ("Annecy", ("74000", "74370", "74600", "74940"), 2),
    ("Perpignan", ("66000", "66100"), 1),
    ("Metz", ("57000", "57050", "57070"), 2),
    ("Besançon", ("25000",), 1),
    ("Orléans", ("45000", "45100"), 2),
    ("Rouen", ("76000", "76100"), 2),
    ("Mulhouse", ("68100", "68200"), 1),
    ("Caen", ("14000",), 2),
    ("Nancy", ("54000", "54100"), 2),
    ("Poitiers", ("86000",), 1),
    ("Pau", ("64000",), 1),
    ("La Rochelle", ("17000",), 1),
    ("Valence", ("26000",), 1),
)

INDUSTRIES = (
    ("Industrie manufacturière", 12),
    ("Commerce de gros", 9),
    ("Commerce de détail", 7),
    ("BTP", 10),
    ("Transport et logistique", 7),
    ("Hôtellerie-restauration", 6),
    ("Services aux entreprises", 12),
    ("Informatique et télécoms", 8),
    ("Agroalimentaire", 6),
    ("Immobilier", 5),
    ("Santé et action sociale", 6),
    ("Enseignement et formation", 3),
    ("Énergie et environnement", 4),
    ("Banque et assurance", 3),
    ("Secteur public", 2),
)

# Organization.Size values with their share of organisations.
SIZES = (("1-9", 34), ("10-49", 33), ("50-249", 21), ("250-4999", 10), ("5000+", 2))
LARGE_SIZES = frozenset({"50-249", "250-4999", "5000+"})
# Deal value multiplier by organisation size.
SIZE_VALUE = {"1-9": 0.45, "10-49": 0.8, "50-249": 1.0, "250-4999": 1.8, "5000+": 3.2}

LEGAL_FORMS = (("SAS", 40), ("SARL", 30), ("SA", 8), ("EURL", 8), ("SASU", 10), ("SCOP", 2))
NAME_PATTERNS = (
    ("{last}", 30),
    ("{last} et Fils", 4),
    ("{last} & {last2}", 12),
    ("Groupe {last}", 6),
    ("Établissements {last}", 5),
    ("{word} {city}", 14),
    ("{word} {last}", 14),
    ("{last} {word}", 15),
)
NAME_WORDS = (
    "Bâtiment",
    "Conseil",
    "Distribution",
    "Industries",
    "Logistique",
    "Services",
    "Transports",
    "Ingénierie",
    "Habitat",
    "Énergies",
    "Métallerie",
    "Menuiserie",
    "Imprimerie",
    "Boulangeries",
    "Pharmacie",
    "Informatique",
    "Mécanique",
    "Automatismes",
    "Emballages",
    "Nettoyage",
    "Paysages",
    "Optique",
    "Immobilier",
    "Formation",
)

JOB_TITLES = (
    # (masculine, feminine, weight)
    ("Directeur général", "Directrice générale", 14),
    ("Gérant", "Gérante", 12),
    ("Directeur administratif et financier", "Directrice administrative et financière", 9),
    ("Responsable des achats", "Responsable des achats", 10),
    ("Directeur des systèmes d'information", "Directrice des systèmes d'information", 7),
    ("Directeur commercial", "Directrice commerciale", 9),
    ("Responsable des opérations", "Responsable des opérations", 8),
    ("Assistant de direction", "Assistante de direction", 8),
    ("Responsable RH", "Responsable RH", 7),
    ("Chef de projet", "Cheffe de projet", 8),
    ("Comptable", "Comptable", 5),
    ("Responsable qualité", "Responsable qualité", 3),
)

# code, name, unit, unit price in euros, VAT rate, recurring, kind
PRODUCTS = (
    ("ABO-ESS", "Abonnement Essentiel", "utilisateur·mois", "29", "20", True, "recurring"),
    ("ABO-PRO", "Abonnement Pro", "utilisateur·mois", "59", "20", True, "recurring"),
    ("ABO-ENT", "Abonnement Entreprise", "utilisateur·mois", "99", "20", True, "recurring"),
    ("SUP-PREM", "Support premium", "mois", "190", "20", True, "recurring"),
    ("SRV-INST", "Mise en service", "forfait", "1500", "20", False, "services"),
    ("SRV-FORM", "Journée de formation", "jour", "1200", "20", False, "services"),
    ("SRV-CONS", "Journée de conseil", "jour", "950", "20", False, "services"),
    ("SRV-DEV", "Développement spécifique", "jour", "850", "20", False, "services"),
    ("MAT-TAB", "Tablette terrain durcie", "unité", "649", "20", False, "one_off"),
    ("MAT-IMP", "Imprimante d'étiquettes", "unité", "289", "20", False, "one_off"),
    ("LIV-GUIDE", "Guide pratique de la vente B2B", "exemplaire", "29", "5.5", False, "one_off"),
    ("LIV-REF", "Ouvrage « Piloter son pipeline »", "exemplaire", "45", "5.5", False, "one_off"),
    ("SEM-DEJ", "Déjeuner de séminaire", "personne", "38", "10", False, "services"),
    ("SEM-NUIT", "Nuitée de séminaire", "nuit", "129", "10", False, "services"),
)
PRODUCT_VAT = {code: Decimal(vat) for code, _, _, _, vat, _, _ in PRODUCTS}

RENEWAL_PIPELINE = "Renouvellements"
RENEWAL_STAGES = (
    # name, probability %, rotting days, definition
    ("À renouveler", 50, 30, "Le contrat arrive à échéance dans les 90 jours."),
    ("Client contacté", 60, 21, "Le client a confirmé son interlocuteur et ses besoins."),
    ("Proposition envoyée", 75, 14, "La proposition de renouvellement est envoyée."),
    ("Accord de principe", 90, 10, "Le client a donné son accord, signature en cours."),
)

NEEDS = {
    "recurring": (
        "Abonnement Pro",
        "Abonnement Essentiel",
        "Abonnement Entreprise",
        "Extension de licences",
        "Déploiement multi-sites",
        "Abonnement et support premium",
    ),
    "one_off": (
        "Équipement terrain",
        "Tablettes pour les équipes",
        "Renouvellement du matériel",
        "Commande d'ouvrages",
        "Kit de démarrage",
    ),
    "services": (
        "Formation des équipes",
        "Accompagnement au déploiement",
        "Audit du processus commercial",
        "Séminaire commercial",
        "Développement d'une intégration",
        "Reprise de données",
    ),
}

# Loss reasons (names of the default lookups) and how often each is given.
LOSS_WEIGHTS = {
    "Prix trop élevé": 30,
    "Concurrent choisi": 25,
    "Pas de budget": 15,
    "Projet abandonné": 12,
    "Pas de réponse": 13,
    "Fonctionnalité manquante": 5,
}
COMPETITORS = ("Salesforce", "HubSpot", "Pipedrive", "Sellsy", "Axonaut", "noCRM.io", "Zoho CRM")

# Done activities, by the stage (index) the deal is in: (type, subject, duration in minutes).
STAGE_ACTIVITIES = (
    (("call", "Appel de découverte", 30), ("email", "Premier contact par e-mail", None)),
    (("call", "Qualification du besoin", 30), ("meeting", "Rendez-vous de découverte", 60)),
    (("meeting", "Démonstration", 60), ("meeting", "Démonstration en visio", 45)),
    (("email", "Envoi de la proposition", None), ("call", "Relance de la proposition", 15)),
    (("meeting", "Rendez-vous de négociation", 60), ("call", "Point sur les conditions", 30)),
)
RENEWAL_ACTIVITIES = (
    (("email", "Rappel d'échéance du contrat", None),),
    (("call", "Bilan de l'année écoulée", 30),),
    (("email", "Envoi de la proposition de renouvellement", None),),
    (("call", "Validation des conditions", 15),),
)
UPCOMING_ACTIVITIES = (
    ("call", "Relancer le client", 15),
    ("meeting", "Rendez-vous de suivi", 60),
    ("task", "Préparer la proposition", None),
    ("call", "Appel de qualification", 30),
    ("meeting", "Démonstration à l'équipe", 60),
    ("deadline", "Date limite de réponse à l'appel d'offres", None),
    ("email", "Envoyer les références clients", None),
)
NEXT_STEPS = (
    "Relancer après le comité de direction",
    "Planifier la démonstration",
    "Envoyer la proposition révisée",
    "Obtenir le nom du décideur",
    "Valider le budget avec la DAF",
    "Organiser un essai gratuit",
    "Confirmer la date de signature",
    "",
    "",
)
NOTES = (
    "{first} souhaite une réponse avant la fin du mois ; le budget est validé.",
    "Échange avec {first} : trois devis concurrents en cours, le prix sera déterminant.",
    "Le comité de direction se réunit le premier mardi du mois, décision attendue ensuite.",
    "{first} a apprécié la démonstration, surtout les tableaux de bord.",
    "Besoin d'une intégration avec leur logiciel de comptabilité, à chiffrer.",
    "Rappeler {first} après les congés, pas de décision avant la rentrée.",
    "Projet porté par la direction générale, forte priorité cette année.",
    "Le client demande une remise de 10 % pour un engagement sur 24 mois.",
    "Référence possible après la mise en service.",
    "Interlocuteur changé : {first} remplace l'ancien responsable des achats.",
)
WIN_LOSS_REPORTS = {
    "won": (
        "Signature obtenue grâce à la démonstration et aux références du secteur.",
        "Le client a choisi notre offre pour la qualité de l'accompagnement.",
        "Décision rapide, besoin urgent et budget disponible.",
    ),
    "lost": (
        "Le client a préféré une solution moins chère.",
        "Projet reporté à l'année prochaine faute de budget.",
        "Pas de retour malgré plusieurs relances.",
        "Le concurrent était déjà en place chez leur maison mère.",
    ),
}

# Share of deals created in each month (1 = an average month): August is quiet, Q4 is busy.
MONTH_FACTOR = {
    1: 0.95,
    2: 1.0,
    3: 1.1,
    4: 1.0,
    5: 0.85,
    6: 1.05,
    7: 0.8,
    8: 0.35,
    9: 1.15,
    10: 1.25,
    11: 1.35,
    12: 1.1,
}
# Monday..Sunday.
WEEKDAY_FACTOR = (1.0, 1.05, 1.05, 1.0, 0.85, 0.05, 0.02)
