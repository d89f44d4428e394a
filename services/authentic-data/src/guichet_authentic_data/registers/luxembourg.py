"""Facts the synthetic registers are made of: Luxembourg's communes with a locality, a postal code
range and a weight (their population in thousands, rounded), streets, names and nationalities.

Approximate on purpose: the data must look real to a person reading it, not be a gazetteer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Commune:
    name: str
    # The locality written on the address (the commune's main one).
    locality: str
    # Postal codes of the commune, as a range of L-xxxx numbers.
    postal_codes: tuple[int, int]
    weight: int


COMMUNES: tuple[Commune, ...] = (
    Commune("Luxembourg", "Luxembourg", (1110, 2999), 135),
    Commune("Esch-sur-Alzette", "Esch-sur-Alzette", (4001, 4398), 37),
    Commune("Differdange", "Differdange", (4501, 4699), 29),
    Commune("Dudelange", "Dudelange", (3401, 3599), 22),
    Commune("Pétange", "Pétange", (4701, 4799), 20),
    Commune("Sanem", "Belvaux", (4401, 4499), 18),
    Commune("Hesperange", "Hesperange", (5801, 5899), 16),
    Commune("Bettembourg", "Bettembourg", (3201, 3299), 11),
    Commune("Schifflange", "Schifflange", (3801, 3899), 11),
    Commune("Käerjeng", "Bascharage", (4901, 4999), 11),
    Commune("Mamer", "Mamer", (8201, 8299), 10),
    Commune("Strassen", "Strassen", (8001, 8099), 10),
    Commune("Kayl", "Kayl", (3601, 3699), 10),
    Commune("Mersch", "Mersch", (7501, 7599), 10),
    Commune("Ettelbruck", "Ettelbruck", (9001, 9099), 9),
    Commune("Bertrange", "Bertrange", (8001, 8099), 9),
    Commune("Mondercange", "Mondercange", (3901, 3999), 7),
    Commune("Diekirch", "Diekirch", (9201, 9299), 7),
    Commune("Wiltz", "Wiltz", (9501, 9599), 7),
    Commune("Junglinster", "Junglinster", (6101, 6199), 8),
    Commune("Niederanven", "Niederanven", (6901, 6999), 7),
    Commune("Walferdange", "Walferdange", (7201, 7299), 9),
    Commune("Steinsel", "Steinsel", (7301, 7399), 6),
    Commune("Sandweiler", "Sandweiler", (5201, 5299), 4),
    Commune("Schuttrange", "Schuttrange", (5301, 5399), 4),
    Commune("Contern", "Contern", (5301, 5399), 4),
    Commune("Roeser", "Roeser", (3301, 3399), 6),
    Commune("Leudelange", "Leudelange", (3301, 3399), 3),
    Commune("Steinfort", "Steinfort", (8401, 8499), 6),
    Commune("Echternach", "Echternach", (6401, 6499), 6),
    Commune("Grevenmacher", "Grevenmacher", (6701, 6799), 5),
    Commune("Remich", "Remich", (5501, 5599), 4),
    Commune("Mondorf-les-Bains", "Mondorf-les-Bains", (5601, 5699), 6),
    Commune("Frisange", "Frisange", (5701, 5799), 5),
    Commune("Schengen", "Schengen", (5401, 5499), 5),
    Commune("Dippach", "Dippach", (4901, 4999), 5),
    Commune("Garnich", "Garnich", (8301, 8399), 2),
    Commune("Kehlen", "Kehlen", (8281, 8299), 6),
    Commune("Kopstal", "Kopstal", (8181, 8199), 4),
    Commune("Lorentzweiler", "Lorentzweiler", (7301, 7399), 4),
    Commune("Lintgen", "Lintgen", (7401, 7499), 3),
    Commune("Colmar-Berg", "Colmar-Berg", (7701, 7799), 2),
    Commune("Bissen", "Bissen", (7701, 7799), 3),
    Commune("Redange", "Redange-sur-Attert", (8501, 8599), 3),
    Commune("Beckerich", "Beckerich", (8501, 8599), 3),
    Commune("Clervaux", "Clervaux", (9701, 9799), 6),
    Commune("Vianden", "Vianden", (9401, 9499), 2),
    Commune("Troisvierges", "Troisvierges", (9901, 9999), 3),
    Commune("Wincrange", "Wincrange", (9701, 9799), 4),
    Commune("Weiswampach", "Weiswampach", (9901, 9999), 2),
    Commune("Mertert", "Wasserbillig", (6601, 6699), 5),
    Commune("Wormeldange", "Wormeldange", (5401, 5499), 3),
    Commune("Betzdorf", "Betzdorf", (6801, 6899), 4),
    Commune("Larochette", "Larochette", (7601, 7699), 2),
    Commune("Erpeldange-sur-Sûre", "Erpeldange-sur-Sûre", (9001, 9099), 3),
    Commune("Bettendorf", "Bettendorf", (9301, 9399), 3),
    Commune("Rambrouch", "Rambrouch", (8801, 8899), 4),
    Commune("Habscht", "Hobscheid", (8401, 8499), 4),
    Commune("Helperknapp", "Tuntange", (7401, 7499), 4),
    Commune("Reckange-sur-Mess", "Reckange-sur-Mess", (4901, 4999), 3),
)

STREETS: tuple[str, ...] = (
    "rue de la Gare",
    "rue Principale",
    "Grand-Rue",
    "route d'Arlon",
    "rue de l'Église",
    "rue des Jardins",
    "rue du Moulin",
    "rue de Luxembourg",
    "avenue de la Liberté",
    "rue des Prés",
    "rue du Château",
    "rue des Champs",
    "rue de la Forêt",
    "rue de l'École",
    "rue des Vignes",
    "rue du Cimetière",
    "rue Michel Rodange",
    "rue Dicks",
    "rue de la Paix",
    "rue des Roses",
    "rue du Parc",
    "rue de la Montagne",
    "rue Nicolas Welter",
    "rue Jean-Pierre Brasseur",
    "op der Heed",
    "an der Uecht",
    "am Bongert",
    "rue des Tilleuls",
    "rue du Fort Neipperg",
    "route de Longwy",
)

SURNAMES: tuple[str, ...] = (
    "Schmit", "Muller", "Weber", "Hoffmann", "Wagner", "Thill", "Schmitz", "Schroeder",
    "Reuter", "Klein", "Becker", "Kieffer", "Kremer", "Faber", "Meyer", "Schiltz", "Welter",
    "Hansen", "Majerus", "Theisen", "Weis", "Wagener", "Ries", "Goergen", "Back", "Braun",
    "Steffen", "Wirtz", "Kayser", "Lentz", "Feller", "Ney", "Gengler", "Diederich", "Jacoby",
    "Marx", "Pauly", "Simon", "Heinen", "Bausch", "da Silva", "Pereira", "Ferreira",
    "dos Santos", "Rodrigues", "Gonçalves", "Fernandes", "Martins", "Lopes", "Alves", "Costa",
    "Carvalho", "Oliveira", "Sousa", "Dubois", "Lambert", "Martin", "Bernard", "Thomas",
    "Petit", "Leroy", "Moreau", "Rossi", "Bianchi", "Ferrari", "Colombo", "Schneider",
    "Fischer", "Krier", "Origer", "Zeimet", "Hilbert", "Mergen", "Bintner", "Spautz",
)  # fmt: skip

GIVEN_NAMES_F: tuple[str, ...] = (
    "Marie", "Anne", "Sophie", "Laura", "Léa", "Emma", "Julie", "Sarah", "Claire",
    "Catherine", "Nathalie", "Sandra", "Ana", "Sofia", "Inês", "Mia", "Charlotte", "Zoé",
    "Elena", "Lisa", "Carole", "Martine", "Josiane", "Monique", "Jeanne", "Chiara", "Lena",
    "Nora", "Joana", "Beatriz",
)  # fmt: skip

GIVEN_NAMES_M: tuple[str, ...] = (
    "Jean", "Paul", "Marc", "Luc", "Tom", "Ben", "Max", "Noah", "Luca", "Gabriel", "Pedro",
    "João", "Pierre", "Michel", "Claude", "Patrick", "Laurent", "Daniel", "Thomas", "David",
    "Léon", "Gilles", "Pit", "Jos", "Romain", "Fernand", "Carlos", "Rui", "Marco", "Henri",
)  # fmt: skip

# Nationality and its weight (percent of residents, rounded), and where such a person was born
# when not in Luxembourg.
NATIONALITIES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("LU", 53, ()),
    ("PT", 15, ("Lisboa", "Porto", "Braga", "Viseu")),
    ("FR", 8, ("Metz", "Thionville", "Nancy", "Paris")),
    ("IT", 4, ("Roma", "Milano", "Napoli")),
    ("BE", 3, ("Arlon", "Liège", "Bruxelles")),
    ("DE", 2, ("Trier", "Saarbrücken", "Köln")),
    ("ES", 2, ("Madrid", "Barcelona", "Sevilla")),
    ("RO", 1, ("București", "Cluj-Napoca")),
    ("PL", 1, ("Warszawa", "Kraków")),
    ("NL", 1, ("Amsterdam", "Utrecht")),
)

COMPANY_WORDS: tuple[str, ...] = (
    "Bâtiment", "Consulting", "Immobilier", "Transports", "Boulangerie", "Menuiserie",
    "Informatique", "Logistique", "Fiduciaire", "Jardins", "Garage", "Électricité",
    "Toiture", "Nettoyage", "Architecture", "Traiteur", "Pharmacie", "Optique", "Vins",
)  # fmt: skip

# Legal forms and their weights: SARL dominates, then SA, SARL-S, SCS, SNC, SCA.
LEGAL_FORMS: tuple[tuple[str, int], ...] = (
    ("SARL", 55),
    ("SA", 25),
    ("SARL-S", 10),
    ("SCS", 5),
    ("SNC", 3),
    ("SCA", 2),
)
