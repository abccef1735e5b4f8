"""Import names whose PyPI distribution is called something else (`import sklearn` needs
`scikit-learn`). Everything not listed installs under its import name."""

from __future__ import annotations

DISTRIBUTIONS: dict[str, str] = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "OpenSSL": "pyopenssl",
    "jwt": "pyjwt",
    "magic": "python-magic",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "serial": "pyserial",
    "usb": "pyusb",
    "gi": "pygobject",
    "git": "gitpython",
    "attr": "attrs",
    "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient",
    "fitz": "pymupdf",
    "Levenshtein": "python-levenshtein",
    "tensorflow_datasets": "tensorflow-datasets",
    "umap": "umap-learn",
    "wx": "wxpython",
    "zmq": "pyzmq",
    "win32api": "pywin32",
    "slugify": "python-slugify",
    "multipart": "python-multipart",
    "jose": "python-jose",
    "telegram": "python-telegram-bot",
    "osgeo": "gdal",
    "faiss": "faiss-cpu",
    "mpl_toolkits": "matplotlib",
    "pkg_resources": "setuptools",
}


def distribution_for(module: str) -> str:
    """The distribution to install so `import module` works."""
    return DISTRIBUTIONS.get(module, module)
