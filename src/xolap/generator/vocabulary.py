"""Subject, unit and topic names the generator draws course, page, activity and video titles from."""

from __future__ import annotations

# (course title, slug stem, units); each unit is (unit title, topics). Five topics per unit at least.
SUBJECTS: tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "Introduction to Biology",
        "intro-biology",
        (
            ("Chemistry of Life", ("Atoms and Bonds", "Water", "Carbon", "Macromolecules", "Enzymes")),
            ("Cell Biology", ("Membranes", "Organelles", "Cell Transport", "Cell Signaling", "The Cytoskeleton")),
            ("Energy and Metabolism", ("ATP", "Glycolysis", "The Krebs Cycle", "Photosynthesis", "Fermentation")),
            ("Genetics", ("Mendel's Laws", "DNA Replication", "Transcription", "Translation", "Mutations")),
            ("Evolution", ("Natural Selection", "Population Genetics", "Speciation", "Phylogenies", "Human Evolution")),
            ("Ecology", ("Populations", "Communities", "Ecosystems", "Biogeochemical Cycles", "Conservation")),
        ),
    ),
    (
        "Probability and Statistics",
        "prob-stats",
        (
            (
                "Exploratory Data Analysis",
                ("Distributions", "Measures of Center", "Spread", "Boxplots", "Scatterplots"),
            ),
            ("Producing Data", ("Sampling", "Bias", "Observational Studies", "Experiments", "Causation")),
            (
                "Probability",
                ("Sample Spaces", "Rules of Probability", "Conditional Probability", "Independence", "Bayes' Rule"),
            ),
            (
                "Random Variables",
                ("Discrete Variables", "Binomial Distribution", "Normal Distribution", "Expected Value", "Variance"),
            ),
            (
                "Sampling Distributions",
                ("Sample Proportions", "Sample Means", "Central Limit Theorem", "Standard Error", "Simulation"),
            ),
            (
                "Inference",
                ("Confidence Intervals", "Hypothesis Tests", "P-values", "Two-Sample Tests", "Chi-Square Tests"),
            ),
        ),
    ),
    (
        "General Chemistry",
        "gen-chem",
        (
            ("Matter and Measurement", ("Units", "Significant Figures", "Density", "Mixtures", "Dimensional Analysis")),
            (
                "Atomic Structure",
                ("Electrons", "Quantum Numbers", "Orbitals", "Electron Configuration", "Periodic Trends"),
            ),
            ("Chemical Bonding", ("Ionic Bonds", "Covalent Bonds", "Lewis Structures", "VSEPR", "Polarity")),
            ("Stoichiometry", ("The Mole", "Balancing Equations", "Limiting Reagents", "Percent Yield", "Solutions")),
            ("Thermochemistry", ("Energy", "Enthalpy", "Calorimetry", "Hess's Law", "Bond Energies")),
            ("Equilibrium", ("Equilibrium Constants", "Le Chatelier's Principle", "Acids and Bases", "pH", "Buffers")),
        ),
    ),
    (
        "Principles of Computing",
        "computing",
        (
            ("Programming Basics", ("Variables", "Expressions", "Conditionals", "Loops", "Functions")),
            ("Data Structures", ("Lists", "Dictionaries", "Stacks and Queues", "Trees", "Graphs")),
            ("Algorithms", ("Searching", "Sorting", "Recursion", "Complexity", "Greedy Algorithms")),
            ("Data Representation", ("Binary Numbers", "Text Encoding", "Images", "Compression", "Encryption")),
            ("Networks", ("The Internet", "Protocols", "Routing", "The Web", "Security")),
            (
                "Computing and Society",
                ("Privacy", "Algorithmic Bias", "Intellectual Property", "Automation", "Accessibility"),
            ),
        ),
    ),
    (
        "Introduction to Psychology",
        "intro-psych",
        (
            (
                "Research Methods",
                ("The Scientific Method", "Descriptive Research", "Correlation", "Experiments", "Ethics"),
            ),
            ("Biopsychology", ("Neurons", "The Brain", "The Endocrine System", "Genes and Behavior", "Sleep")),
            ("Sensation and Perception", ("Vision", "Hearing", "Attention", "Perceptual Organization", "Illusions")),
            (
                "Learning",
                (
                    "Classical Conditioning",
                    "Operant Conditioning",
                    "Reinforcement Schedules",
                    "Observational Learning",
                    "Habits",
                ),
            ),
            ("Memory", ("Encoding", "Storage", "Retrieval", "Forgetting", "Memory Distortions")),
            ("Social Psychology", ("Attitudes", "Conformity", "Group Behavior", "Prejudice", "Helping Behavior")),
        ),
    ),
    (
        "Microeconomics",
        "microecon",
        (
            (
                "Thinking Like an Economist",
                ("Scarcity", "Opportunity Cost", "Marginal Analysis", "Trade-offs", "Models"),
            ),
            ("Supply and Demand", ("Demand", "Supply", "Market Equilibrium", "Shifts", "Price Controls")),
            ("Elasticity", ("Price Elasticity", "Income Elasticity", "Cross Elasticity", "Tax Incidence", "Revenue")),
            (
                "Consumer Choice",
                ("Utility", "Budget Constraints", "Indifference Curves", "Income Effects", "Behavioral Economics"),
            ),
            (
                "Production and Costs",
                ("Production Functions", "Short-Run Costs", "Long-Run Costs", "Economies of Scale", "Profit"),
            ),
            (
                "Market Structures",
                ("Perfect Competition", "Monopoly", "Oligopoly", "Game Theory", "Monopolistic Competition"),
            ),
        ),
    ),
)

PRACTICE_ACTIVITY_STEMS = (
    "Check Your Understanding",
    "Learn by Doing",
    "Did I Get This?",
    "Practice",
    "Worked Example",
)
VIDEO_STEMS = (
    "Introduction to {topic}",
    "{topic} Explained",
    "{topic}: A Worked Example",
    "Lecture: {topic}",
    "{topic} in Five Minutes",
)
TERMS = (("Spring", 1, 12), ("Summer", 5, 18), ("Fall", 8, 31), ("Winter", 11, 2))
TUTOR_QUESTIONS = (
    "Can you give me a hint for this question?",
    "Why is my answer wrong?",
    "Can you explain this concept in simpler words?",
    "What does this term mean?",
    "I don't understand the feedback.",
    "Can you show me a similar example?",
    "How do I start this problem?",
    "Is there a formula I should use here?",
)
FEEDBACK_CORRECT = ("Correct!", "Nice work.", "That's right.", "Exactly.")
FEEDBACK_INCORRECT = (
    "Not quite. Review the reading and try again.",
    "Incorrect.",
    "Close, but check your reasoning.",
    "That's not it.",
)
SHORT_ANSWERS = (
    "osmosis",
    "the mitochondria",
    "it increases",
    "it decreases",
    "no change",
    "42",
    "0.05",
    "true",
    "false",
)
