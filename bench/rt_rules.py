"""A dozen labeling rules for the Rotten Tomatoes snippets (tests/data/rotten_tomatoes): is a
critic's one-line review "fresh" (positive) or "rotten" (negative)? Written from that task
description and general knowledge of how critics write, before looking at how each rule does on
the data (their figures are in docs/benchmarks.md, measured once, not tuned)."""

from annotation.rules.matchers import Keywords, Regex, Rule

LABELS = ["fresh", "rotten"]

_ADJ_GOOD = "good|funny|interesting|engaging|entertaining|compelling|original|memorable|scary|clever|worth|enough|much"

RULES = [
    # fresh
    Rule("fresh", Keywords(("masterpiece", "masterful", "brilliant", "superb", "outstanding", "excellent", "triumph",
                            "gem", "must-see", "must see", "remarkable", "wonderful", "stunning", "delight",
                            "delightful"))),  # fmt: skip
    Rule("fresh", Keywords(("funny", "hilarious", "charming", "witty", "entertaining", "enjoyable", "fun", "moving",
                            "touching", "heartfelt", "engaging", "compelling", "gripping", "thrilling"))),  # fmt: skip
    Rule("fresh", Keywords(("best", "finest", "great", "terrific", "fantastic", "amazing", "impressive", "powerful",
                            "memorable", "satisfying", "smart", "intelligent", "clever", "rewarding", "worth seeing",
                            "worth watching"))),  # fmt: skip
    Rule("fresh", Regex(r"\b(well|beautifully|brilliantly|superbly|skillfully|expertly|lovingly) "
                        r"(made|crafted|acted|written|directed|played|done|observed|shot)\b")),  # fmt: skip
    Rule("fresh", Regex(r"\bone of the (year's )?(best|finest|most \w+)\b")),
    Rule("fresh", Regex(r"\b(terrific|fine|strong|excellent|great|wonderful|superb|stellar|winning|splendid|"
                        r"marvelous|marvellous) (performances?|cast|acting|ensemble|turn)\b")),  # fmt: skip
    # rotten
    Rule("rotten", Keywords(("boring", "dull", "tedious", "bland", "lifeless", "flat", "tiresome", "plodding", "sluggish",
                             "meandering", "forgettable", "unfunny", "uninspired", "uninvolving"))),  # fmt: skip
    Rule("rotten", Keywords(("bad", "awful", "terrible", "horrible", "worst", "mess", "disaster", "dreadful", "lame",
                             "stupid", "pointless", "mediocre", "poorly", "waste", "fails", "failure", "disappointing",
                             "disappointment"))),  # fmt: skip
    Rule("rotten", Keywords(("cliché", "clichéd", "cliches", "clichés", "predictable", "formulaic", "contrived",
                             "derivative", "generic", "by-the-numbers", "stale", "hackneyed", "trite", "silly",
                             "preposterous", "ridiculous"))),  # fmt: skip
    Rule("rotten", Regex(r"(\bnot|\bnever|n't|\bhardly|\bnothing)\s+(very |particularly |terribly |quite |really |"
                         rf"all that |that |so |as )?({_ADJ_GOOD})\b")),  # fmt: skip
    Rule("rotten", Regex(r"\b(too|overly) (long|slow|much|little|many|familiar|predictable|silly|sentimental|"
                         r"obvious|thin|cute)\b")),  # fmt: skip
    Rule("rotten", Keywords(("unfortunately", "sadly", "alas", "falls flat", "fall flat", "misfires", "wasted",
                             "squanders", "squandered", "doesn't work", "does not work", "fails to"))),  # fmt: skip
]
