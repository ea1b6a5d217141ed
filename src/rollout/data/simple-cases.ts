/**
 * The seed's `prepare_data.py --mode simple` tasks: tiny repositories given inline (`repo_content`), an
 * instruction, and the expected patch (exactly what `git add -A && git diff --cached HEAD` gives for the
 * intended change, so `reward.type=similarity` can score an exact match 1.0). Train and validation pools are
 * disjoint. Generated with git; test/rollout/tasks checks every patch applies and reproduces.
 */

export interface SimpleCase {
  problem_statement: string;
  repo_content: Record<string, string>;
  expected_patch: string;
}

export const SIMPLE_CASES_TRAIN: SimpleCase[] = [
  {
    problem_statement: "Move notes.txt into a docs/ folder (docs/notes.txt).",
    repo_content: {
      "notes.txt": "Meeting at noon.\n",
    },
    expected_patch:
      "diff --git a/notes.txt b/docs/notes.txt\nsimilarity index 100%\nrename from notes.txt\nrename to docs/notes.txt\n",
  },
  {
    problem_statement: "Create hello.py that prints 'Hello, World!'.",
    repo_content: {},
    expected_patch:
      "diff --git a/hello.py b/hello.py\nnew file mode 100644\nindex 0000000..0990720\n--- /dev/null\n+++ b/hello.py\n@@ -0,0 +1 @@\n+print('Hello, World!')\n",
  },
  {
    problem_statement: "calculator.py: add(a, b) returns a - b; it must return a + b.",
    repo_content: {
      "calculator.py": "def add(a, b):\n    return a - b\n",
    },
    expected_patch:
      "diff --git a/calculator.py b/calculator.py\nindex 12ee743..4693ad3 100644\n--- a/calculator.py\n+++ b/calculator.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n",
  },
  {
    problem_statement: "Delete obsolete.txt from the repository; keep keep.txt.",
    repo_content: {
      "obsolete.txt": "old stuff\n",
      "keep.txt": "keep me\n",
    },
    expected_patch:
      "diff --git a/obsolete.txt b/obsolete.txt\ndeleted file mode 100644\nindex e3c647d..0000000\n--- a/obsolete.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-old stuff\n",
  },
  {
    problem_statement: 'Give greet() in greet.py the docstring "Return a greeting for name."',
    repo_content: {
      "greet.py": 'def greet(name):\n    return f"Hello, {name}!"\n',
    },
    expected_patch:
      'diff --git a/greet.py b/greet.py\nindex 097a41c..18722f2 100644\n--- a/greet.py\n+++ b/greet.py\n@@ -1,2 +1,3 @@\n def greet(name):\n+    """Return a greeting for name."""\n     return f"Hello, {name}!"\n',
  },
  {
    problem_statement: "count.py should print the numbers 1 to 5 inclusive; it stops at 4.",
    repo_content: {
      "count.py": "for i in range(1, 5):\n    print(i)\n",
    },
    expected_patch:
      "diff --git a/count.py b/count.py\nindex fed78fa..79d4f46 100644\n--- a/count.py\n+++ b/count.py\n@@ -1,2 +1,2 @@\n-for i in range(1, 5):\n+for i in range(1, 6):\n     print(i)\n",
  },
  {
    problem_statement: 'Create settings.json containing {"debug": false, "retries": 3}.',
    repo_content: {},
    expected_patch:
      'diff --git a/settings.json b/settings.json\nnew file mode 100644\nindex 0000000..4593126\n--- /dev/null\n+++ b/settings.json\n@@ -0,0 +1 @@\n+{"debug": false, "retries": 3}\n',
  },
  {
    problem_statement: "mathops.py: multiply(a, b) adds instead of multiplying. Fix it.",
    repo_content: {
      "mathops.py": "def multiply(a, b):\n    return a + b\n\n\ndef negate(a):\n    return -a\n",
    },
    expected_patch:
      "diff --git a/mathops.py b/mathops.py\nindex 29ffa68..62cda1d 100644\n--- a/mathops.py\n+++ b/mathops.py\n@@ -1,5 +1,5 @@\n def multiply(a, b):\n-    return a + b\n+    return a * b\n \n \n def negate(a):\n",
  },
  {
    problem_statement: "Replace every 'colour' with 'color' in style.txt.",
    repo_content: {
      "style.txt": "colour scheme\nthe colour red\n",
    },
    expected_patch:
      "diff --git a/style.txt b/style.txt\nindex c12b369..76a3483 100644\n--- a/style.txt\n+++ b/style.txt\n@@ -1,2 +1,2 @@\n-colour scheme\n-the colour red\n+color scheme\n+the color red\n",
  },
  {
    problem_statement: "Add the shebang line #!/usr/bin/env python3 at the top of tool.py.",
    repo_content: {
      "tool.py": "import sys\nprint(sys.argv[1:])\n",
    },
    expected_patch:
      "diff --git a/tool.py b/tool.py\nindex 0e92bdd..e0a187b 100644\n--- a/tool.py\n+++ b/tool.py\n@@ -1,2 +1,3 @@\n+#!/usr/bin/env python3\n import sys\n print(sys.argv[1:])\n",
  },
  {
    problem_statement: "broken.py has a syntax error: the if statement lacks its colon.",
    repo_content: {
      "broken.py": "if True\n    print('ok')\n",
    },
    expected_patch:
      "diff --git a/broken.py b/broken.py\nindex e48dcaa..1b6f61a 100644\n--- a/broken.py\n+++ b/broken.py\n@@ -1,2 +1,2 @@\n-if True\n+if True:\n     print('ok')\n",
  },
  {
    problem_statement: "parse_csv in csvparse.py crashes on None; return [] for an empty or None input.",
    repo_content: {
      "csvparse.py":
        "def parse_csv(text):\n    rows = []\n    for line in text.strip().splitlines():\n        rows.append(line.split(','))\n    return rows\n",
    },
    expected_patch:
      "diff --git a/csvparse.py b/csvparse.py\nindex 0e30794..ef4f2f2 100644\n--- a/csvparse.py\n+++ b/csvparse.py\n@@ -1,4 +1,6 @@\n def parse_csv(text):\n+    if not text:\n+        return []\n     rows = []\n     for line in text.strip().splitlines():\n         rows.append(line.split(','))\n",
  },
  {
    problem_statement: "flatten in lists.py handles only one level of nesting; make it recursive.",
    repo_content: {
      "lists.py":
        "def flatten(items):\n    out = []\n    for item in items:\n        if isinstance(item, list):\n            out.extend(item)\n        else:\n            out.append(item)\n    return out\n",
    },
    expected_patch:
      "diff --git a/lists.py b/lists.py\nindex 24f4196..96b38a8 100644\n--- a/lists.py\n+++ b/lists.py\n@@ -2,7 +2,7 @@ def flatten(items):\n     out = []\n     for item in items:\n         if isinstance(item, list):\n-            out.extend(item)\n+            out.extend(flatten(item))\n         else:\n             out.append(item)\n     return out\n",
  },
  {
    problem_statement: "Give Point in shapes.py a __repr__ returning 'Point(x=<x>, y=<y>)'.",
    repo_content: {
      "shapes.py": "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n",
    },
    expected_patch:
      'diff --git a/shapes.py b/shapes.py\nindex 45c5e61..8c936b5 100644\n--- a/shapes.py\n+++ b/shapes.py\n@@ -2,3 +2,6 @@ class Point:\n     def __init__(self, x, y):\n         self.x = x\n         self.y = y\n+\n+    def __repr__(self):\n+        return f"Point(x={self.x}, y={self.y})"\n',
  },
  {
    problem_statement: "is_palindrome in pal.py must ignore case and spaces.",
    repo_content: {
      "pal.py": "def is_palindrome(s):\n    return s == s[::-1]\n",
    },
    expected_patch:
      "diff --git a/pal.py b/pal.py\nindex 92892de..493e456 100644\n--- a/pal.py\n+++ b/pal.py\n@@ -1,2 +1,3 @@\n def is_palindrome(s):\n+    s = s.lower().replace(' ', '')\n     return s == s[::-1]\n",
  },
  {
    problem_statement:
      "Add Stack.peek() to stack.py: the top item without removing it; IndexError when empty.",
    repo_content: {
      "stack.py":
        "class Stack:\n    def __init__(self):\n        self._items = []\n\n    def push(self, item):\n        self._items.append(item)\n\n    def pop(self):\n        return self._items.pop()\n",
    },
    expected_patch:
      'diff --git a/stack.py b/stack.py\nindex 5197f3a..f9e568f 100644\n--- a/stack.py\n+++ b/stack.py\n@@ -7,3 +7,8 @@ class Stack:\n \n     def pop(self):\n         return self._items.pop()\n+\n+    def peek(self):\n+        if not self._items:\n+            raise IndexError("peek from empty stack")\n+        return self._items[-1]\n',
  },
];

export const SIMPLE_CASES_VAL: SimpleCase[] = [
  {
    problem_statement: "Rename report.txt to summary.txt.",
    repo_content: {
      "report.txt": "Q3 numbers\n",
    },
    expected_patch:
      "diff --git a/report.txt b/summary.txt\nsimilarity index 100%\nrename from report.txt\nrename to summary.txt\n",
  },
  {
    problem_statement: "Create bye.py that prints 'Goodbye!'.",
    repo_content: {},
    expected_patch:
      "diff --git a/bye.py b/bye.py\nnew file mode 100644\nindex 0000000..31bbe49\n--- /dev/null\n+++ b/bye.py\n@@ -0,0 +1 @@\n+print('Goodbye!')\n",
  },
  {
    problem_statement: "sub.py: subtract(a, b) returns a + b; it must return a - b.",
    repo_content: {
      "sub.py": "def subtract(a, b):\n    return a + b\n",
    },
    expected_patch:
      "diff --git a/sub.py b/sub.py\nindex 9e186df..6078a09 100644\n--- a/sub.py\n+++ b/sub.py\n@@ -1,2 +1,2 @@\n def subtract(a, b):\n-    return a + b\n+    return a - b\n",
  },
  {
    problem_statement: "Delete debug.log from the repository.",
    repo_content: {
      "debug.log": "DEBUG old entries\n",
      "app.py": "print('app')\n",
    },
    expected_patch:
      "diff --git a/debug.log b/debug.log\ndeleted file mode 100644\nindex 9e6a612..0000000\n--- a/debug.log\n+++ /dev/null\n@@ -1 +0,0 @@\n-DEBUG old entries\n",
  },
  {
    problem_statement:
      "clamp(value, lo, hi) in limits.py returns value unchanged; make it clamp to [lo, hi].",
    repo_content: {
      "limits.py": "def clamp(value, lo, hi):\n    return value\n",
    },
    expected_patch:
      "diff --git a/limits.py b/limits.py\nindex 4db3d70..8ae30fc 100644\n--- a/limits.py\n+++ b/limits.py\n@@ -1,2 +1,2 @@\n def clamp(value, lo, hi):\n-    return value\n+    return max(lo, min(hi, value))\n",
  },
  {
    problem_statement: "word_count in words.py splits on single spaces only; split on any whitespace.",
    repo_content: {
      "words.py": "def word_count(text):\n    return len(text.split(' '))\n",
    },
    expected_patch:
      "diff --git a/words.py b/words.py\nindex a5a3597..a0ae1cb 100644\n--- a/words.py\n+++ b/words.py\n@@ -1,2 +1,2 @@\n def word_count(text):\n-    return len(text.split(' '))\n+    return len(text.split())\n",
  },
  {
    problem_statement: "safe_divide in div.py must return 0.0 when the divisor is zero.",
    repo_content: {
      "div.py": "def safe_divide(a, b):\n    return a / b\n",
    },
    expected_patch:
      "diff --git a/div.py b/div.py\nindex 2141a14..c627ca6 100644\n--- a/div.py\n+++ b/div.py\n@@ -1,2 +1,4 @@\n def safe_divide(a, b):\n+    if b == 0:\n+        return 0.0\n     return a / b\n",
  },
];
