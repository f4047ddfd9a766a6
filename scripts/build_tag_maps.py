#!/usr/bin/env python3
"""Build the curated maps from ImageNet / AudioSet classes to the default tags (mmvideo/data/*_to_tags.tsv).

A developer tool, run by hand when the default vocabulary or the rules below change; the product only reads
the committed TSV files (never ``../shared``). Inputs (see ``../shared/ontology/README.md``):

- ImageNet: the WordNet 3.0 is-a graph above the 1,000 classes (``imagenet-wordnet/``). A rule on a synset
  applies to every ImageNet class below it (``golden retriever`` -> ``dog`` via ``n02084071 dog``);
  per-class rules add tags to one class; ``IMAGENET_REMOVE`` takes tags away from a subtree.
- AudioSet: the ontology's ``child_ids`` graph (``audioset/ontology.json``). A rule on a class applies to its
  whole subtree (``Speech`` and its children -> ``speech``); a class with several parents keeps only the tags
  its tagged parents agree on (``Hiss`` under ``Cat`` and ``Snake`` -> no animal); ``Silence`` and other
  source-less classes map to nothing.

Fine-grained tags (``FINE_IMAGENET``, ``FINE_AUDIOSET``: "goose", "swan", "drum kit") are appended to tags.tsv
in a generated block, and ``tag_parents.tsv`` records the hierarchy the maps imply (goose -> bird -> animal).

Usage: ``python scripts/build_tag_maps.py [--ontology ../shared/ontology] [--out mmvideo/data] [--check]``
(``--check`` exits 1 when the committed files differ from what the rules produce).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# --- ImageNet: rules on WordNet synsets (inherited by every ImageNet class below them) -------------------
# Keys are synset ids (a comment names them) or an ImageNet class's first lemma (one class only).
IMAGENET_SUBTREE: dict[str, str] = {
    "n00015388": "animal",  # animal
    "n02084071": "dog, pet",  # dog, domestic dog
    "n02121808": "cat, pet",  # domestic cat
    "n02127808": "wild animal",  # big cat
    "n01503061": "bird",  # bird
    "n01846331": "duck",  # duck
    "n02512053": "fish",  # fish
    "n02159955": "insect",  # insect
    "n02274259": "butterfly",  # butterfly
    "n01772222": "spider",  # spider
    "n01726692": "snake",  # snake
    "n01674464": "lizard",  # lizard
    "n01696633": "wild animal",  # crocodilian
    "n01639765": "frog",  # frog
    "n01662784": "turtle",  # turtle
    "n02484322": "monkey",  # monkey
    "n02470325": "monkey, wild animal",  # ape
    "n02496913": "monkey, wild animal",  # lemur
    "n02503517": "elephant, wild animal",  # elephant
    "n02131653": "bear, wild animal",  # bear
    "n02324045": "rabbit",  # rabbit
    "n02329401": "rodent",  # rodent
    "n02062744": "whale",  # whale
    "n02114100": "wild animal",  # wolf
    "n02118333": "wild animal",  # fox
    "n02115335": "wild animal",  # wild dog
    "n02441326": "wild animal",  # musteline mammal
    "n01874434": "wild animal",  # marsupial
    "n02419796": "wild animal",  # antelope
    "n01909422": "underwater, ocean",  # coelenterate (jellyfish, anemone, coral)
    "n02316707": "underwater, ocean",  # echinoderm (starfish, urchin)
    "n00007846": "person",  # person
    "n03051540": "person",  # clothing (worn: a suit or a tie in a frame almost always means a person)
    "n03380867": "clothing",  # footwear
    "n03791235": "vehicle",  # motor vehicle
    "n02958343": "car",  # car
    "n04490091": "truck",  # truck
    "n02924116": "bus",  # bus
    "n04530566": "boat",  # vessel, watercraft
    "n02686568": "airplane",  # aircraft
    "n02834778": "bicycle, cycling",  # bicycle
    "n02959942": "train",  # railway car
    "n03684823": "train",  # locomotive
    "n03800933": "music",  # musical instrument
    "n03467517": "guitar",  # guitar
    "n03928116": "piano",  # piano
    "n03915437": "drums",  # percussion instrument
    "n02880546": "violin",  # bowed stringed instrument
    "n04586932": "wind instrument",  # wind instrument
    "n00021265": "food",  # food, nutrient
    "n07707451": "vegetable",  # vegetable
    "n07705931": "fruit",  # edible fruit
    "n07679356": "bread",  # bread
    "n07609840": "dessert",  # dessert
    "n07557434": "meal",  # dish (food)
    "n07881800": "drink",  # beverage
    "n07884567": "wine",  # alcoholic drink
    "n12992868": "mushroom, forest",  # fungus
    "n11669921": "flower, plant",  # flower
    "n03405725": "furniture",  # furniture
    "n03082979": "computer",  # computer
    "n04401088": "phone",  # telephone
    "n04565375": "weapon",  # weapon
    "n04437953": "clock",  # timepiece
    "n02942699": "camera",  # camera
    "n04285146": "sport",  # sports equipment
    "n02778669": "ball, sport",  # ball
    "n04202417": "shop",  # shop, store
    "n02913152": "building",  # building
    "n03953416": "church",  # place of worship
    "n02898711": "bridge",  # bridge
    "n09287968": "nature",  # geological formation
    "n03964744": "toy",  # plaything, toy
    "n03472232": "gym, sport",  # gymnastic apparatus
}

# Tags taken away from a subtree after the rules above.
IMAGENET_REMOVE: dict[str, str] = {
    "n02862048": "person",  # body armour (museum pieces more often than worn)
    "n03026506": "person",  # Christmas stocking
    "n03775071": "person",  # mitten
    "n04254777": "person",  # sock
    "n04599235": "person",  # wool
    "n01699831": "animal",  # triceratops (toy models and skeletons)
    "n01704323": "animal",  # triceratops
    "n01768244": "animal",  # trilobite (fossils)
    "n07881800": "food",  # beverage (under "food, nutrient" in WordNet): drinks are "drink"
    "n03928116": "drums",  # piano (a percussion instrument in WordNet)
    "n03017168": "drums",  # chime
    "n02672831": "wind instrument",  # accordion
    "n03854065": "wind instrument",  # organ
    "n04023962": "ball",  # punching bag ("punching ball")
    "n07802026": "food",  # hay (fodder)
    "n07930864": "food, wine",  # cup (WordNet: a punch; ImageNet's pictures: cups of tea and coffee)
    "n03770679": "truck",  # minivan
    "n07871810": "bread",  # meat loaf
    "n03891332": "clock",  # parking meter (a timer)
    "n04238763": "computer",  # slide rule (an analog computer)
    "n02782093": "airplane",  # balloon
    "n03529860": "building",  # home theater
    "n01930112": "animal",  # nematode: MobileNet's answer for black and dark frames, not for worms
}

# Per-class tags (first lemma of the class, or its synset id when the lemma names two classes).
IMAGENET_CLASS: dict[str, str] = {
    # animals
    "cock": "chicken, farm", "hen": "chicken, farm", "drake": "duck", "tusker": "elephant, wild animal",
    "lion": "lion, wild animal", "tiger": "tiger, wild animal", "zebra": "zebra, wild animal",
    "sorrel": "horse, farm", "ox": "cow, farm", "ram": "sheep, farm", "hog": "pig, farm",
    "water buffalo": "wild animal", "bison": "wild animal", "bighorn": "wild animal", "ibex": "wild animal",
    "wild boar": "wild animal", "warthog": "wild animal", "hippopotamus": "wild animal",
    "coyote": "wild animal", "hyena": "wild animal", "giant panda": "bear, wild animal",
    "lesser panda": "wild animal", "mongoose": "wild animal", "meerkat": "wild animal",
    "armadillo": "wild animal", "three-toed sloth": "wild animal", "porcupine": "wild animal",
    "hare": "rabbit", "Angora": "rabbit, pet", "hamster": "pet", "guinea pig": "pet", "goldfish": "pet",
    "sea lion": "ocean", "dugong": "underwater, ocean", "triceratops": "toy",
    "sea slug": "underwater, ocean", "chambered nautilus": "underwater, ocean", "chiton": "ocean",
    "ballplayer": "baseball, sport", "groom": "wedding", "scuba diver": "underwater, swimming",
    # clothing and things worn by people
    "seat belt": "car, person", "crash helmet": "motorcycle, person", "football helmet": "football, sport, person",
    "bearskin": "person", "cloak": "person", "bulletproof vest": "person", "cowboy hat": "person",
    "sombrero": "person", "pickelhaube": "person",
    "mortarboard": "person", "sunglass": "person", "sunglasses": "person", "wig": "person",
    "necklace": "person", "lipstick": "face", "mask": "person", "ski mask": "snow, person",
    "bathing cap": "swimming, person", "bikini": "beach, swimming", "swimming trunks": "swimming",
    "n03710637": "swimming", "n03710721": "swimming",  # maillot (two classes)
    "bib": "baby", "diaper": "baby", "pajama": "bedroom", "mitten": "snow, clothing", "sock": "clothing",
    "purse": "clothing", "shoe shop": "clothing", "vestment": "church", "knee pad": "sport",
    # vehicles and transport
    "amphibian": "vehicle, water", "beach wagon": "car", "cab": "car, city", "convertible": "car",
    "jeep": "car", "limousine": "car", "minivan": "car", "Model T": "car", "sports car": "car",
    "racer": "car, sport", "go-kart": "car, sport", "police van": "car", "car mirror": "car",
    "car wheel": "car", "grille": "car", "odometer": "car", "oil filter": "car", "disk brake": "vehicle",
    "gas pump": "car, street", "parking meter": "car, street", "recreational vehicle": "car",
    "moped": "motorcycle", "motor scooter": "motorcycle", "minibus": "bus", "school bus": "bus",
    "trolleybus": "bus, city", "streetcar": "train, street, city", "bullet train": "train",
    "electric locomotive": "train", "steam locomotive": "train, smoke", "freight car": "train",
    "passenger car": "train", "fire engine": "truck", "garbage truck": "truck, street", "moving van": "truck",
    "pickup": "truck", "tow truck": "truck", "trailer truck": "truck", "snowplow": "truck, snow",
    "snowmobile": "vehicle, snow", "half track": "vehicle", "tank": "vehicle, weapon", "tractor": "vehicle, farm",
    "tricycle": "bicycle, child", "unicycle": "bicycle", "mountain bike": "bicycle, cycling",
    "horse cart": "horse", "oxcart": "farm", "jinrikisha": "street", "dogsled": "dog, snow",
    "bobsled": "snow, sport", "forklift": "machine", "aircraft carrier": "ocean", "container ship": "ocean",
    "liner": "ocean", "lifeboat": "ocean", "catamaran": "ocean", "trimaran": "ocean", "schooner": "ocean",
    "pirate": "ocean", "submarine": "ocean", "wreck": "boat, underwater", "fireboat": "water",
    "speedboat": "water", "gondola": "water, city", "paddle": "boat", "paddlewheel": "boat, water",
    "dock": "boat, water", "boathouse": "boat, lake", "pier": "ocean", "breakwater": "ocean, beach",
    "wing": "airplane, sky", "warplane": "airplane", "space shuttle": "airplane", "parachute": "sky, sport",
    "airship": "sky", "balloon": "party", "traffic light": "street, traffic", "street sign": "sign, street, text",
    "manhole cover": "street", "mailbox": "street", "ashcan": "street", "pay-phone": "phone, street",
    # places and buildings
    "altar": "church", "bell cote": "church", "monastery": "church", "mosque": "church", "stupa": "church",
    "barn": "farm", "apiary": "farm, insect", "greenhouse": "plant, garden", "library": "book",
    "cinema": "screen", "restaurant": "restaurant, meal", "stage": "stage, concert", "theater curtain": "stage",
    "spotlight": "stage", "microphone": "stage", "scoreboard": "stadium, sport", "prison": "building",
    "palace": "building", "castle": "building", "dome": "building", "planetarium": "building",
    "cliff dwelling": "building, mountain", "obelisk": "city", "triumphal arch": "city, building",
    "water tower": "building", "tile roof": "house, building", "thatch": "house", "yurt": "house",
    "mobile home": "house", "patio": "house, garden", "picket fence": "house, garden", "shoji": "house",
    "sliding door": "building", "window screen": "house", "window shade": "house", "doormat": "house",
    "bannister": "house", "steel arch bridge": "bridge", "suspension bridge": "bridge", "viaduct": "bridge",
    "dam": "water, river", "fountain": "water, park", "park bench": "park", "carousel": "park",
    "swing": "playground", "megalith": "rock", "stone wall": "rock", "worm fence": "farm",
    "mountain tent": "nature", "bakery": "bread, food", "butcher shop": "meat", "confectionery": "dessert",
    "grocery store": "food", "bookshop": "book", "toyshop": "toy", "shopping basket": "shop",
    "shopping cart": "shop", "barbershop": "shop", "barber chair": "shop",
    # rooms and household things
    "refrigerator": "kitchen", "stove": "kitchen, cooking", "microwave": "kitchen",
    "dishwasher": "kitchen, machine",
    "toaster": "kitchen", "waffle iron": "kitchen, cooking", "Crock Pot": "kitchen, cooking",
    "Dutch oven": "kitchen, cooking", "caldron": "cooking", "frying pan": "kitchen, cooking",
    "wok": "kitchen, cooking", "spatula": "kitchen, cooking", "ladle": "kitchen, cooking",
    "wooden spoon": "cooking", "mixing bowl": "kitchen, cooking", "measuring cup": "kitchen, cooking",
    "cleaver": "kitchen, cooking", "strainer": "kitchen", "can opener": "kitchen", "dishrag": "kitchen",
    "paper towel": "kitchen", "plate rack": "kitchen", "china cabinet": "kitchen", "mortar": "kitchen",
    "espresso maker": "coffee, kitchen", "coffeepot": "coffee", "teapot": "coffee, kitchen",
    "coffee mug": "coffee, drink", "cup": "coffee, drink", "saltshaker": "kitchen, meal",
    "rotisserie": "cooking, meat", "dough": "bread, cooking", "dining table": "meal",
    "soup bowl": "meal", "plate": "meal, food", "menu": "restaurant, text",
    "bathtub": "bathroom, water", "tub": "bathroom, water", "toilet seat": "bathroom",
    "toilet tissue": "bathroom", "washbasin": "bathroom", "shower curtain": "bathroom",
    "shower cap": "bathroom", "soap dispenser": "bathroom", "medicine chest": "bathroom",
    "plunger": "bathroom", "hand blower": "bathroom", "bath towel": "bathroom",
    "four-poster": "bedroom", "quilt": "bedroom", "pillow": "bedroom", "wardrobe": "bedroom",
    "chiffonier": "bedroom", "mosquito net": "bedroom", "crib": "baby, bedroom", "cradle": "baby",
    "bassinet": "baby, bedroom", "studio couch": "living room",
    "entertainment center": "screen, living room", "home theater": "screen, living room",
    "remote control": "screen, living room", "television": "screen", "monitor": "screen, computer",
    "screen": "screen", "projector": "screen", "web site": "screen, text",
    "desk": "office", "desktop computer": "office", "computer keyboard": "computer, office",
    "typewriter keyboard": "document, office", "space bar": "computer", "mouse": "computer",
    "laptop": "computer", "notebook": "computer", "hand-held computer": "computer", "hard disc": "computer",
    "modem": "computer", "printer": "office, machine", "photocopier": "office, machine", "file": "office",
    "binder": "document, office", "envelope": "document", "crossword puzzle": "text, document",
    "comic book": "cartoon, book", "book jacket": "book", "bookcase": "book", "joystick": "video game",
    "cellular telephone": "phone", "dial telephone": "phone", "vacuum": "machine, house",
    "washer": "machine", "sewing machine": "machine", "electric fan": "machine",
    "vending machine": "machine, drink",
    "n03126707": "machine, city", "chain saw": "tool, machine", "lawn mower": "garden, machine, grass",
    "harvester": "farm, machine", "thresher": "farm, machine", "plow": "farm", "hay": "farm",
    "drilling platform": "ocean, machine", "carpenter's kit": "tool", "hammer": "tool", "hatchet": "tool",
    "screwdriver": "tool", "screw": "tool", "nail": "tool", "plane": "tool", "power drill": "tool",
    "shovel": "tool, garden", "barrow": "garden", "pot": "plant, garden", "vase": "flower",
    "birdhouse": "bird, garden", "rain barrel": "garden", "honeycomb": "insect", "spider web": "spider",
    "muzzle": "dog", "lens cap": "camera", "tripod": "camera", "Polaroid camera": "camera",
    "reflex camera": "camera", "teddy": "toy", "jigsaw puzzle": "toy", "piggy bank": "toy",
    "pinwheel": "toy, wind", "jack-o'-lantern": "party", "maypole": "party", "Christmas stocking": "party",
    "umbrella": "rain", "sunscreen": "beach", "fire screen": "fire", "torch": "fire", "matchstick": "fire",
    "holster": "weapon", "scabbard": "weapon", "cannon": "weapon", "missile": "weapon", "projectile": "weapon",
    # music and sport
    "chime": "bell", "gong": "drums", "maraca": "drums", "marimba": "drums", "steel drum": "drums",
    "drumstick": "drums", "pick": "guitar", "upright": "piano", "grand piano": "piano", "cello": "violin",
    "barbell": "gym, sport", "dumbbell": "gym, sport", "punching bag": "boxing, gym",
    "baseball": "baseball", "basketball": "basketball", "soccer ball": "football", "rugby ball": "sport",
    "tennis ball": "tennis", "racket": "tennis, sport", "golf ball": "golf", "golfcart": "golf",
    "ping-pong ball": "sport", "volleyball": "sport", "croquet ball": "sport", "puck": "sport",
    "pool table": "sport", "bow": "sport", "ski": "skiing, snow",
    "snorkel": "swimming, underwater",
    # food and drink
    "ice cream": "dessert", "ice lolly": "dessert", "trifle": "dessert", "chocolate sauce": "dessert",
    "cheeseburger": "meat, meal", "hotdog": "meat, meal", "meat loaf": "meat, meal", "pizza": "meal",
    "potpie": "meal", "burrito": "meal", "carbonara": "meal", "hot pot": "meal", "consomme": "meal",
    "red wine": "wine", "espresso": "coffee", "eggnog": "drink", "beer bottle": "wine, drink",
    "beer glass": "wine, drink", "wine bottle": "wine, drink", "whiskey jug": "wine", "goblet": "wine, drink",
    "corkscrew": "wine", "cocktail shaker": "drink", "pop bottle": "drink", "water bottle": "drink",
    "water jug": "drink", "pitcher": "drink", "bottlecap": "drink", "mushroom": "mushroom, food",
    # nature
    "alp": "mountain, snow", "cliff": "mountain, rock", "coral reef": "underwater, ocean",
    "geyser": "water", "lakeside": "lake, water", "promontory": "ocean, rock", "sandbar": "beach",
    "seashore": "beach, ocean", "valley": "mountain", "volcano": "mountain, smoke",
    "rapeseed": "flower, plant, farm", "corn": "vegetable, farm", "ear": "plant, farm",
    "acorn": "tree", "buckeye": "tree", "hip": "plant",
}

# --- Fine-grained tags: everyday names for what the classifiers tell apart ("goose", not only "bird") -----
# Each tag is given by the ImageNet classes (first lemma, or a synset id for a subtree) and the AudioSet classes
# (display names, with their subtrees) that show it. They are added to the vocabulary after the hand-written
# tags of tags.tsv; their parents are not written by hand but found in the maps (see ``parents``).
FINE_IMAGENET: dict[str, str] = {
    # birds and other animals
    "goose": "goose", "swan": "black swan", "eagle": "bald eagle", "owl": "great grey owl",
    "parrot": "African grey; macaw; sulphur-crested cockatoo; lorikeet", "penguin": "king penguin",
    "flamingo": "flamingo", "pelican": "pelican", "peacock": "peacock", "hummingbird": "hummingbird",
    "stork": "white stork; black stork", "heron": "little blue heron; American egret; bittern",
    "ostrich": "ostrich", "shark": "great white shark; tiger shark; hammerhead", "stingray": "stingray; electric ray",
    "jellyfish": "jellyfish", "crab": "Dungeness crab; rock crab; fiddler crab; king crab; hermit crab",
    "lobster": "American lobster; spiny lobster; crayfish", "starfish": "starfish", "snail": "snail; slug",
    "bee": "bee", "ant": "ant", "ladybug": "ladybug",
    "beetle": "tiger beetle; ladybug; ground beetle; long-horned beetle; leaf beetle; dung beetle; "
              "rhinoceros beetle; weevil",
    "dragonfly": "dragonfly; damselfly", "grasshopper": "grasshopper; cricket",
    "fox": "red fox; kit fox; Arctic fox; grey fox", "wolf": "timber wolf; white wolf; red wolf; coyote",
    "leopard": "leopard; snow leopard; jaguar", "cheetah": "cheetah", "gorilla": "gorilla",
    "chimpanzee": "chimpanzee", "squirrel": "fox squirrel", "hamster": "hamster", "koala": "koala",
    "panda": "giant panda; lesser panda", "llama": "llama", "camel": "Arabian camel", "otter": "otter",
    "beaver": "beaver", "hippopotamus": "hippopotamus", "antelope": "hartebeest; impala; gazelle",
    "kangaroo": "wallaby", "crocodile": "African crocodile; American alligator",
    # vehicles
    "ambulance": "ambulance", "taxi": "cab", "police car": "police van", "fire truck": "fire engine",
    "tractor": "tractor", "scooter": "moped; motor scooter", "ship": "liner; container ship; aircraft carrier",
    "sailboat": "schooner; catamaran; trimaran; yawl", "canoe": "canoe; paddle", "speedboat": "speedboat",
    "submarine": "submarine", "tram": "streetcar", "van": "minivan; moving van; police van",
    "race car": "racer; go-kart", "sports car": "sports car; convertible", "limousine": "limousine",
    "jeep": "jeep", "tank": "tank", "forklift": "forklift", "crane": "n03126707",
    "rocket": "missile; projectile; space shuttle", "school bus": "school bus",
    # music
    "trumpet": "cornet; French horn; trombone", "saxophone": "sax", "flute": "flute; panpipe", "harp": "harp",
    "accordion": "accordion", "harmonica": "harmonica", "banjo": "banjo", "cello": "cello",
    "electric guitar": "electric guitar", "acoustic guitar": "acoustic guitar", "grand piano": "grand piano",
    "marimba": "marimba", "drum kit": "drum; drumstick",
    # food and drink
    "pizza": "pizza", "burger": "cheeseburger", "hot dog": "hotdog", "ice cream": "ice cream; ice lolly",
    "banana": "banana", "apple": "Granny Smith", "orange": "orange", "lemon": "lemon", "strawberry": "strawberry",
    "pineapple": "pineapple", "broccoli": "broccoli", "cabbage": "head cabbage", "pretzel": "pretzel",
    "bagel": "bagel", "burrito": "burrito", "pasta": "carbonara", "soup": "consomme; hot pot",
    "mug": "coffee mug", "bottle": "water bottle; wine bottle; beer bottle; pop bottle; pill bottle",
    # things
    "chair": "folding chair; rocking chair; barber chair; throne", "table": "dining table; desk",
    "sofa": "studio couch", "bed": "four-poster; crib", "lamp": "table lamp; lampshade", "umbrella": "umbrella",
    "backpack": "backpack", "bag": "backpack; purse; plastic bag; mailbag", "hat": "cowboy hat; sombrero; bonnet",
    "helmet": "crash helmet; football helmet", "sunglasses": "sunglass; sunglasses", "watch": "digital watch",
    "laptop": "laptop; notebook", "keyboard": "computer keyboard; typewriter keyboard",
    "television": "television; home theater; entertainment center", "microphone": "microphone",
    "teddy bear": "teddy", "balloon": "balloon", "tent": "mountain tent", "candle": "candle",
    "shoe": "running shoe; Loafer; clog; cowboy boot; sandal", "tie": "Windsor tie; bow tie; bolo tie",
    "suit": "suit", "dress": "gown; hoopskirt; overskirt", "jeans": "jean", "coat": "trench coat; fur coat; lab coat",
    "uniform": "military uniform", "bench": "park bench", "fence": "picket fence; chainlink fence; worm fence",
    "traffic light": "traffic light", "street sign": "street sign",
    # places
    "castle": "castle", "palace": "palace", "lighthouse": "beacon", "barn": "barn", "greenhouse": "greenhouse",
    "cliff": "cliff", "volcano": "volcano", "valley": "valley", "coral reef": "coral reef", "fountain": "fountain",
    "carousel": "carousel", "dam": "dam", "library": "library",
    # sports
    "tennis": "tennis ball; racket", "golf": "golf ball; golfcart", "volleyball": "volleyball",
    "rugby": "rugby ball", "soccer": "soccer ball", "skiing": "ski", "boxing": "punching bag",
    "weightlifting": "barbell; dumbbell", "gymnastics": "parallel bars; balance beam; horizontal bar",
    "table tennis": "ping-pong ball", "billiards": "pool table", "scuba diving": "scuba diver; snorkel",
    # plants
    "daisy": "daisy",
}
FINE_AUDIOSET: dict[str, str] = {
    "birdsong": "Bird vocalization, bird call, bird song", "barking": "Bark", "meowing": "Meow",
    "goose": "Goose", "owl": "Owl", "bee": "Bee, wasp, etc.", "grasshopper": "Cricket",
    "thunder": "Thunder", "waves": "Waves, surf", "drum kit": "Drum kit; Snare drum", "cheering": "Cheering",
    "whistling": "Whistling; Whistle", "gunshot": "Gunshot, gunfire", "rooster": "Crowing, cock-a-doodle-doo",
    "skateboard": "Skateboard", "typing": "Typing", "car horn": "Vehicle horn, car horn, honking",
    "electric guitar": "Electric guitar", "saxophone": "Saxophone", "trumpet": "Trumpet", "flute": "Flute",
    "harp": "Harp", "accordion": "Accordion", "harmonica": "Harmonica", "banjo": "Banjo", "cello": "Cello",
    "speedboat": "Motorboat, speedboat", "sailboat": "Sailboat, sailing ship", "ambulance": "Ambulance (siren)",
    "police car": "Police car (siren)", "fire truck": "Fire engine, fire truck (siren)",
    "race car": "Race car, auto racing", "chainsaw": "Chainsaw", "lawn mower": "Lawn mower",
    "church bell": "Church bell", "doorbell": "Doorbell", "purring": "Purr", "howling": "Howl",
    "neighing": "Neigh, whinny", "mooing": "Moo", "quacking": "Quack", "snoring": "Snoring",
    "coughing": "Cough", "organ": "Organ",
}
# Tags found by implication in the maps that are not what a person would call a parent (a tie is not a kind
# of person, though a tie in a frame means one): left out of the hierarchy, never out of the maps.
NOT_PARENTS = ("person", "face", "people", "stage", "concert", "water", "nature", "city", "street", "house",
               "building", "kitchen", "office", "bathroom", "bedroom", "living room", "farm", "snow", "sky",
               "machine", "garden", "book", "footsteps", "gym", "explosion", "underwater", "ocean", "beach", "lake",
               "airplane", "cooking", "meal", "restaurant", "park", "playground", "shop", "party", "child", "baby",
               "screen", "computer", "office", "text", "document")


# --- AudioSet: rules on ontology classes (by display name, inherited by the whole subtree) --------------
AUDIOSET_SUBTREE: dict[str, str] = {
    "Human voice": "person",
    "Speech": "speech",
    "Conversation": "conversation",
    "Child speech, kid speaking": "child",
    "Babbling": "baby",
    "Whispering": "whispering, speech",
    "Shout": "shouting",
    "Screaming": "shouting",
    "Children shouting": "shouting, child",
    "Laughter": "laughter",
    "Baby laughter": "baby",
    "Crying, sobbing": "crying",
    "Baby cry, infant cry": "baby",
    "Singing": "singing, music",
    "Humming": "singing",
    "Respiratory sounds": "person",
    "Human locomotion": "footsteps",
    "Run": "running",
    "Clapping": "applause",
    "Applause": "applause, crowd",
    "Cheering": "crowd",
    "Crowd": "crowd",
    "Chatter": "conversation, people",
    "Hubbub, speech noise, speech babble": "crowd, people",
    "Children playing": "child, playground",
    "Animal": "animal",
    "Domestic animals, pets": "pet",
    "Dog": "dog",
    "Cat": "cat",
    "Livestock, farm animals, working animals": "farm",
    "Horse": "horse",
    "Cattle, bovinae": "cow",
    "Pig": "pig",
    "Sheep": "sheep",
    "Fowl": "bird",
    "Chicken, rooster": "chicken",
    "Duck": "duck",
    "Wild animals": "wild animal",
    "Roaring cats (lions, tigers)": "lion, tiger",
    "Bird": "bird",
    "Rodents, rats, mice": "rodent",
    "Insect": "insect",
    "Frog": "frog",
    "Snake": "snake",
    "Whale vocalization": "whale, ocean",
    "Music": "music",
    "Guitar": "guitar",
    "Keyboard (musical)": "piano",
    "Percussion": "drums",
    "Orchestra": "orchestra",
    "Classical music": "orchestra",
    "Brass instrument": "wind instrument",
    "Wind instrument, woodwind instrument": "wind instrument",
    "Bowed string instrument": "violin",
    "Choir": "singing",
    "Vocal music": "singing",
    "Bell": "bell",
    "Church bell": "church",
    "Dance music": "dancing",
    "Christmas music": "party",
    "Wedding music": "wedding",
    "Birthday music": "party",
    "Video game music": "video game",
    "Wind": "wind",
    "Rustling leaves": "tree",
    "Thunderstorm": "thunderstorm, rain",
    "Water": "water",
    "Rain": "rain",
    "Stream": "creek, river, nature",
    "Waterfall": "waterfall, nature",
    "Ocean": "ocean, beach",
    "Fire": "fire",
    "Wildfire": "forest",
    "Vehicle": "vehicle",
    "Boat, Water vehicle": "boat, water",
    "Motor vehicle (road)": "traffic",
    "Car": "car",
    "Truck": "truck",
    "Bus": "bus",
    "Motorcycle": "motorcycle",
    "Emergency vehicle": "siren",
    "Traffic noise, roadway noise": "street",
    "Rail transport": "train",
    "Aircraft": "airplane",
    "Helicopter": "helicopter",
    "Bicycle": "bicycle",
    "Skateboard": "sport",
    "Engine": "engine",
    "Dishes, pots, and pans": "kitchen",
    "Cutlery, silverware": "kitchen, meal",
    "Chopping (food)": "kitchen, cooking",
    "Frying (food)": "kitchen, cooking",
    "Microwave oven": "kitchen",
    "Blender": "kitchen",
    "Kettle whistle": "kitchen",
    "Water tap, faucet": "water",
    "Sink (filling or washing)": "water",
    "Bathtub (filling or washing)": "bathroom, water",
    "Toilet flush": "bathroom",
    "Hair dryer": "bathroom",
    "Toothbrush": "bathroom",
    "Electric shaver, electric razor": "bathroom",
    "Vacuum cleaner": "machine",
    "Typing": "computer, office",
    "Telephone": "phone",
    "Alarm": "alarm",
    "Siren": "siren",
    "Bicycle bell": "bicycle",
    "Clock": "clock",
    "Mechanisms": "machine",
    "Printer": "office",
    "Cash register": "shop",
    "Camera": "camera",
    "Tools": "tool",
    "Explosion": "explosion",
    "Gunshot, gunfire": "weapon",
    "Fireworks": "fireworks",
    "Splash, splatter": "water",
    "Boiling": "cooking",
    "Sizzle": "cooking",
    "Basketball bounce": "basketball",
    "Outside, urban or manmade": "city",
    "Outside, rural or natural": "nature",
    "Television": "screen",
    "Cacophony": "noise",
    "Crackle": "fire",
    "Car alarm": "car, alarm",
    "Vehicle horn, car horn, honking": "car, traffic",
    "Air horn, truck horn": "truck",
    "Jet engine": "airplane, engine",
    "Cowbell": "bell",
}
# Classes that carry no evidence of what is in the video: never a tag, dropped from audio tokens.
AUDIOSET_NO_EVIDENCE = ("Silence",)


GENERATED = "# --- fine-grained tags: generated by scripts/build_tag_maps.py from its FINE_* rules; edit those ---"


def hand_written(path: Path) -> str:
    """The hand-written part of tags.tsv (everything before the generated block), ending in a newline."""
    text = path.read_text(encoding="utf-8")
    return text.split(GENERATED, 1)[0].rstrip("\n") + "\n"


def read_vocabulary(path: Path) -> list[str]:
    """Tag names of the default vocabulary: the hand-written tags of tags.tsv, then the fine-grained ones."""
    tags = []
    for line in hand_written(path).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            tags.append(line.split("\t", 1)[0].strip())
    return tags + [t for t in dict.fromkeys([*FINE_IMAGENET, *FINE_AUDIOSET]) if t not in tags]


def fine_rules(rules: dict[str, str]) -> dict[str, list[str]]:
    """Class (lemma, synset id or AudioSet name) -> fine tags, from a FINE_* table."""
    out: dict[str, list[str]] = collections.defaultdict(list)
    for tag, keys in rules.items():
        for key in (k.strip() for k in keys.split(";")):
            out[key].append(tag)
    return out


def parents(imagenet: list, audioset: list, vocab: list[str]) -> dict[str, list[str]]:
    """Each tag's direct parents, found in the maps: A is above B when every class mapped to B is also mapped
    to A (all but one in twenty) and A has more classes (goose -> bird -> animal), except the tags of
    ``NOT_PARENTS``."""
    classes: dict[str, set] = collections.defaultdict(set)
    for index, _, _, tags in imagenet:
        for t in tags:
            classes[t].add(("imagenet", index))
    for cid, _, tags in audioset:
        for t in tags:
            classes[t].add(("audioset", cid))
    def under(b: str, a: str) -> bool:  # all of b's classes but one in twenty (a birdhouse is not an animal)
        return len(classes[b] - classes[a]) <= len(classes[b]) // 20 and len(classes[a]) > len(classes[b])

    above = {b: [a for a in vocab if a != b and a not in NOT_PARENTS and classes[b] and under(b, a)]
             for b in vocab}
    return {b: [a for a in ups if not any(a in above[c] for c in ups if c != a)] for b, ups in above.items()}


def split_tags(value: str, vocab: set[str], where: str) -> list[str]:
    tags = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in tags if t not in vocab]
    if unknown:
        raise SystemExit(f"{where}: tags not in the default vocabulary: {unknown}")
    return tags


def build_imagenet(onto: Path, vocab: list[str]) -> list[tuple[int, str, str, list[str]]]:
    """Rows (index, synset, first lemma, tags) for the 1,000 ImageNet classes."""
    base = onto / "imagenet-wordnet"
    parents: dict[str, set[str]] = collections.defaultdict(set)
    for line in (base / "class_hierarchy.txt").read_text().splitlines():
        p, c = line.split()
        parents[c].add(p)
    classes = json.loads((base / "dataset_class_info.json").read_text())
    vset = set(vocab)

    def lineage(synset: str) -> set[str]:
        seen, stack = {synset}, [synset]
        while stack:
            for p in parents.get(stack.pop(), ()):
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        return seen

    by_lemma: dict[str, list[str]] = collections.defaultdict(list)
    for _, synset, names in classes:
        by_lemma[names.split(",")[0].strip()].append(synset)
    per_class: dict[str, list[str]] = collections.defaultdict(list)
    for key, value in IMAGENET_CLASS.items():
        synsets = [key] if key.startswith("n0") or key.startswith("n1") else by_lemma.get(key, [])
        if len(synsets) != 1:
            raise SystemExit(f"ImageNet class rule {key!r} matches {len(synsets)} classes; use the synset id")
        per_class[synsets[0]] += split_tags(value, vset, f"ImageNet {key}")
    known = set(parents) | {p for ps in parents.values() for p in ps}
    fine = fine_rules(FINE_IMAGENET)
    for key in fine:
        if key.startswith("n0") or key.startswith("n1"):
            if key not in known:
                raise SystemExit(f"fine ImageNet rule {key!r} names no synset of the hierarchy")
        elif len(by_lemma.get(key, [])) != 1:
            raise SystemExit(f"fine ImageNet rule {key!r} matches {len(by_lemma.get(key, []))} classes; use the "
                             f"synset id")
    for key in list(IMAGENET_SUBTREE) + list(IMAGENET_REMOVE):
        if key not in known:
            raise SystemExit(f"ImageNet rule {key!r} names no synset of the hierarchy")

    rows = []
    for index, synset, names in classes:
        up = lineage(synset)
        tags: set[str] = set(per_class.get(synset, ()))
        for key, value in IMAGENET_SUBTREE.items():
            if key in up:
                tags.update(split_tags(value, vset, f"ImageNet {key}"))
        for key, value in IMAGENET_REMOVE.items():
            if key in up:
                tags.difference_update(split_tags(value, vset, f"ImageNet {key}"))
        tags.update(per_class.get(synset, ()))  # a class's own rule wins over a subtree removal
        for key in [names.split(",")[0].strip(), *up]:  # fine rules: the class's lemma, synsets above it
            tags.update(fine.get(key, ()))
        rows.append((index, synset, names.split(",")[0].strip(), [t for t in vocab if t in tags]))
    return rows


def build_audioset(onto: Path, vocab: list[str]) -> list[tuple[str, str, list[str]]]:
    """Rows (id, name, tags) for every class of the AudioSet ontology (YAMNet's 521 are a subset)."""
    classes = json.loads((onto / "audioset" / "ontology.json").read_text())
    by_id = {c["id"]: c for c in classes}
    by_name = {c["name"]: c for c in classes}
    parents: dict[str, set[str]] = collections.defaultdict(set)
    for c in classes:
        for child in c["child_ids"]:
            parents[child].add(c["id"])
    vset = set(vocab)
    fine = fine_rules(FINE_AUDIOSET)
    for name in list(AUDIOSET_SUBTREE) + list(AUDIOSET_NO_EVIDENCE) + list(fine):
        if name not in by_name:
            raise SystemExit(f"AudioSet rule {name!r} names no class of the ontology")

    memo: dict[str, frozenset[str]] = {}

    def tags_of(cid: str) -> frozenset[str]:
        # own rule, plus what every tagged parent agrees on: a class under two parents ("Hiss" under "Cat"
        # and "Snake") inherits only their common tags, while tag-less parents ("Onomatopoeia") abstain
        if cid not in memo:
            name = by_id[cid]["name"]
            own = set(split_tags(AUDIOSET_SUBTREE.get(name, ""), vset, name)) | set(fine.get(name, ()))
            inherited = [t for t in (tags_of(p) for p in sorted(parents.get(cid, ()))) if t]
            if inherited:
                own |= set.intersection(*map(set, inherited))
            memo[cid] = frozenset(own)
        return memo[cid]

    rows = []
    for c in classes:
        tags = set() if c["name"] in AUDIOSET_NO_EVIDENCE else tags_of(c["id"])
        rows.append((c["id"], c["name"], [t for t in vocab if t in tags]))
    return rows


HEADER_IMAGENET = """\
# ImageNet-1k class -> default mmvideo tags (comma-separated; empty: no default tag).
# Generated by scripts/build_tag_maps.py from the WordNet 3.0 is-a graph (Princeton WordNet licence,
# see ONTOLOGY_LICENSES.md) and hand-written rules; edit the rules, not this file.
index\tsynset\tname\ttags
"""
HEADER_AUDIOSET = """\
# AudioSet ontology class -> default mmvideo tags (comma-separated; empty: no default tag).
# Generated by scripts/build_tag_maps.py from the AudioSet ontology (Google, CC BY-SA 4.0, see
# ONTOLOGY_LICENSES.md) and hand-written rules; edit the rules, not this file.
id\tname\ttags
"""


HEADER_PARENTS = """\
# Default tag -> its direct parents in the default vocabulary (comma-separated): a child's evidence reaches its
# parents (goose -> bird -> animal). Generated by scripts/build_tag_maps.py from the maps below: a tag is above
# another when every class mapped to the other is mapped to it too; edit the rules, not this file.
tag\tparents
"""


def render(onto: Path, vocab_path: Path) -> dict[str, str]:
    vocab = read_vocabulary(vocab_path)
    imagenet = build_imagenet(onto, vocab)
    audioset = build_audioset(onto, vocab)
    links = parents(imagenet, audioset, vocab)
    base = hand_written(vocab_path)
    known = set(read_vocabulary_hand(base))
    fine = [t for t in vocab if t not in known]
    return {
        "tags.tsv": base + "\n" + GENERATED + "\n" + "".join(f"{t}\n" for t in fine),
        "imagenet_to_tags.tsv": HEADER_IMAGENET
        + "".join(f"{i}\t{s}\t{n}\t{','.join(t)}\n" for i, s, n, t in imagenet),
        "audioset_to_tags.tsv": HEADER_AUDIOSET + "".join(f"{i}\t{n}\t{','.join(t)}\n" for i, n, t in audioset),
        "tag_parents.tsv": HEADER_PARENTS + "".join(f"{t}\t{','.join(ps)}\n" for t, ps in links.items() if ps),
    }


def read_vocabulary_hand(text: str) -> list[str]:
    """The tag names of the hand-written part of tags.tsv."""
    return [line.strip().split("\t", 1)[0].strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ontology", type=Path, default=REPO.parent / "shared" / "ontology")
    parser.add_argument("--out", type=Path, default=REPO / "mmvideo" / "data")
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args(argv)
    files = render(args.ontology, args.out / "tags.tsv")
    stale = []
    for name, text in files.items():
        path = args.out / name
        rows = [line for line in text.splitlines() if line and not line.startswith("#")][1:]
        if name.endswith("_to_tags.tsv"):
            mapped = sum(1 for r in rows if r.rsplit("\t", 1)[1])
            print(f"{name}: {len(rows)} classes, {mapped} mapped to at least one tag")
        else:
            print(f"{name}: {len(rows) + (name == 'tags.tsv')} rows")
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)} (run scripts/build_tag_maps.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
